/**
 * `hashFiles(...)` for cache keys, over the job's checked-out workspace, computed inside the
 * container so it works the same with a remote Docker engine and never reads the host file system:
 * `find` lists regular files (symlinks are not followed), the host filters them with picomatch,
 * `sha256sum` hashes the matches in batches (argv, no shell), and the host hashes the sorted
 * `path\0sha256\n` list. The image needs `find` and `sha256sum` (busybox and coreutils both have
 * them); when it does not, the workspace is read through the archive API and hashed on the host.
 * No match gives the empty string, as in GitHub Actions.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { ReadEntry } from 'tar';
import type { JobContainer } from '../core/job-contract.js';
import { renderTemplate, type ExpressionContext } from '../pipeline/expressions.js';
import { workspaceMatcher } from './artifact-store.js';
import { forEachTarEntry } from './tar-streams.js';

const BATCH = 200;

/** Renders a cache key: a first pass records which hashFiles() calls it makes, then those are computed and it renders again. */
export async function renderCacheKey(template: string, ctx: Omit<ExpressionContext, 'hashFiles'>, container: JobContainer): Promise<string> {
  const wanted: string[][] = [];
  renderTemplate(template, { ...ctx, hashFiles: (patterns) => { wanted.push(patterns); return ''; } });
  if (wanted.length === 0) return renderTemplate(template, ctx);
  const hashes = await hashWorkspaceFiles(container, wanted);
  return renderTemplate(template, { ...ctx, hashFiles: (patterns) => hashes.get(JSON.stringify(patterns)) ?? '' });
}

/** One digest per pattern set (keyed by JSON.stringify(patterns)). */
export async function hashWorkspaceFiles(container: JobContainer, patternSets: string[][]): Promise<Map<string, string>> {
  let files: Map<string, string>;
  try {
    files = await hashViaExec(container, patternSets);
  } catch {
    files = await hashViaArchive(container, patternSets);
  }
  const out = new Map<string, string>();
  for (const patterns of patternSets) {
    const match = workspaceMatcher(patterns.map(normalisePattern));
    const lines = [...files].filter(([p]) => match(p)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (lines.length === 0) {
      out.set(JSON.stringify(patterns), '');
      continue;
    }
    const h = createHash('sha256');
    for (const [p, sha] of lines) h.update(`${p}\0${sha}\n`);
    out.set(JSON.stringify(patterns), h.digest('hex'));
  }
  return out;
}

function normalisePattern(p: string): string {
  const neg = p.startsWith('!');
  let s = neg ? p.slice(1) : p;
  while (s.startsWith('./')) s = s.slice(2);
  return neg ? `!${s}` : s;
}

async function run(container: JobContainer, argv: string[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const { exitCode } = await container.exec(argv, {
    workdir: container.workspace,
    onOutput: (stream, chunk) => {
      if (stream === 'stdout') chunks.push(chunk);
    },
  });
  if (exitCode !== 0) throw new Error(`${argv[0]} exited with ${exitCode}`);
  return Buffer.concat(chunks);
}

/** Map of workspace-relative path → sha256 of the files any pattern set matches. */
async function hashViaExec(container: JobContainer, patternSets: string[][]): Promise<Map<string, string>> {
  const listing = await run(container, ['find', '.', '-path', './.git', '-prune', '-o', '-type', 'f', '-print0']);
  const matchers = patternSets.map((ps) => workspaceMatcher(ps.map(normalisePattern)));
  const wanted = listing
    .toString('utf8')
    .split('\0')
    .filter((p) => p !== '')
    .map((p) => (p.startsWith('./') ? p.slice(2) : p))
    .filter((p) => matchers.some((m) => m(p)));
  const out = new Map<string, string>();
  for (let i = 0; i < wanted.length; i += BATCH) {
    const batch = wanted.slice(i, i + BATCH);
    // "./" keeps a file named "-x" from reading as an option.
    const text = (await run(container, ['sha256sum', ...batch.map((p) => `./${p}`)])).toString('utf8');
    const sums = text.split('\n').filter((l) => l !== '').map((l) => /^\\?([0-9a-f]{64})/.exec(l)?.[1]);
    if (sums.length !== batch.length || sums.some((s) => s === undefined)) throw new Error('unexpected sha256sum output');
    batch.forEach((p, j) => out.set(p, sums[j] as string));
  }
  return out;
}

async function hashViaArchive(container: JobContainer, patternSets: string[][]): Promise<Map<string, string>> {
  const matchers = patternSets.map((ps) => workspaceMatcher(ps.map(normalisePattern)));
  const out = new Map<string, string>();
  const archive = await container.getArchive(container.workspace);
  await forEachTarEntry(archive, async (entry: ReadEntry) => {
    const parts = entry.path.split('/').filter((s) => s !== '' && s !== '.');
    const rel = parts.slice(1).join('/');
    if (entry.type !== 'File' || rel === '' || parts.includes('..') || rel.startsWith('.git/') || !matchers.some((m) => m(rel))) {
      entry.resume();
      return;
    }
    const h = createHash('sha256');
    for await (const chunk of entry as AsyncIterable<Buffer>) h.update(chunk);
    out.set(posix.normalize(rel), h.digest('hex'));
  });
  return out;
}
