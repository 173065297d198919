/**
 * `artifacts:` under `kiln run`: each job's declared files are copied out of its container into a
 * directory on this machine — `--artifacts DIR`, else one per run under the user's cache directory
 * ($XDG_CACHE_HOME/kiln/run/artifacts/<repo>-<hash>/<run>, out of the way of `git status`; the
 * KEPT_RUNS newest runs of a repository are kept) — at DIR/<job>/<workspace path>.
 *
 * The files are chosen by the server's own rule (storage/artifact-store.forEachArtifactFile): the
 * same patterns, `when`, links never followed, patterns leaving the workspace refused, the same
 * per-job limit, and the same log lines. As on the server, a refused pattern fails the job after
 * the files of the valid ones are copied, going over the limit fails it and keeps none of its files,
 * and a job gets the artifacts of its needs in its workspace before its steps.
 *
 * Call order: hooksFor(job) when the job starts (its needs are finished by then), then lines() after
 * the run, one line per job that declares artifacts: where they went, or why there are none.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { PlannedJob } from '../../shared/model/plan.js';
import type { Status } from '../../shared/model/status.js';
import { formatBytes } from '../../shared/format.js';
import type { JobContainer, JobHooks } from '../core/job-contract.js';
import { artifactsWanted } from '../engine/job-storage-hooks.js';
import { collectedLines, DEFAULT_MAX_JOB_ARTIFACT_BYTES, forEachArtifactFile, putIntoWorkspace, refusedPatternsError, upstreamFiles } from '../storage/artifact-store.js';

/** How many runs' artifacts the default directory keeps per repository (older ones are removed when a run starts). */
export const KEPT_RUNS = 10;

const RUN_NAME = /^\d{8}-\d{6}-[0-9a-f]{4}$/;
const ENDED: Partial<Record<Status, string>> = { cancelled: 'was cancelled', timed_out: 'timed out' };

/** A run's directory name: its start time (UTC, so names sort by age) and a random suffix. */
export function runDirName(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

/** The default directory of a repository's runs: named after the repository and a hash of its absolute path. */
export function repoArtifactsDir(cacheHome: string, repoDir: string): string {
  const abs = resolve(repoDir);
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 8);
  return join(cacheHome, 'kiln', 'run', 'artifacts', `${basename(abs) || 'root'}-${hash}`);
}

/** Removes all but the `keep` newest run directories under `repoDir` (only names this module makes). */
export async function pruneRuns(repoDir: string, keep: number): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(repoDir)).filter((n) => RUN_NAME.test(n)).sort();
  } catch {
    return;
  }
  for (const name of names.slice(0, Math.max(0, names.length - keep))) await rm(join(repoDir, name), { recursive: true, force: true });
}

/** A directory name for a job id (`test (node=20)` → `test-node-20`). */
export function jobDirName(jobId: string): string {
  const name = jobId.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '');
  return name === '' ? 'job' : name;
}

interface CopiedFile {
  path: string;
  file: string;
  size: number;
}

type JobArtifacts =
  | { kind: 'copied'; dir: string; files: CopiedFile[]; bytes: number; refused: string[]; unmatched: string[] }
  | { kind: 'none'; reason: string };

export interface LocalArtifactsOptions {
  /** The run's directory: each job's files go to <dir>/<job>/. */
  dir: string;
  jobs: readonly PlannedJob[];
  /** Bytes one job may copy. Default: the server's limit (1 GiB). */
  maxJobBytes?: number;
}

export class LocalArtifacts {
  readonly dir: string;
  private readonly maxJobBytes: number;
  private readonly dirOf = new Map<string, string>();
  private readonly results = new Map<string, JobArtifacts>();

  constructor(options: LocalArtifactsOptions) {
    this.dir = resolve(options.dir);
    this.maxJobBytes = options.maxJobBytes ?? DEFAULT_MAX_JOB_ARTIFACT_BYTES;
    const used = new Set<string>();
    for (const job of options.jobs) {
      if (!job.artifacts) continue;
      let name = jobDirName(job.id);
      // Compared without case: on macOS and Windows `Build` and `build` are one directory.
      for (let n = 2; used.has(name.toLowerCase()); n++) name = `${jobDirName(job.id)}-${n}`;
      used.add(name.toLowerCase());
      this.dirOf.set(job.id, join(this.dir, name));
    }
  }

  /** Whether any job declares artifacts (otherwise nothing is created on disk). */
  get wanted(): boolean {
    return this.dirOf.size > 0;
  }

  /** beforeSteps puts the artifacts of the job's needs into its workspace; afterSteps copies the job's own. */
  hooksFor(job: PlannedJob): { before?: JobHooks; after?: JobHooks } {
    const upstream = job.needs.filter((id) => this.results.get(id)?.kind === 'copied');
    const dir = this.dirOf.get(job.id);
    return {
      before: upstream.length > 0 ? { beforeSteps: (container, log) => this.putUpstream(container, upstream, log) } : undefined,
      after: dir && job.artifacts ? { afterSteps: (container, status, log) => this.copy(job, dir, container, status, log) } : undefined,
    };
  }

  /** One line per job that declares artifacts, in plan order: where its files went, or why there are none. */
  lines(jobs: readonly PlannedJob[], statusOf: (jobId: string) => Status | undefined): string[] {
    return jobs.filter((j) => this.dirOf.has(j.id)).map((j) => {
      const status = statusOf(j.id) ?? 'skipped';
      const r = this.results.get(j.id)
        ?? { kind: 'none', reason: status === 'skipped' ? 'the job was skipped' : `the job ${ENDED[status] ?? status} before they were collected` };
      if (r.kind === 'none') return `artifacts of ${j.name}: none (${r.reason})`;
      const quoted = (ps: string[]): string => ps.map((p) => `'${p}'`).join(', ');
      const unmatched = r.unmatched.length > 0 ? `; no files match ${quoted(r.unmatched)}` : '';
      const refused = r.refused.length > 0 ? `; refused: ${quoted(r.refused)}` : '';
      return `artifacts of ${j.name}: ${r.files.length} file${r.files.length === 1 ? '' : 's'} (${formatBytes(r.bytes)}) in ${r.dir}${unmatched}${refused}`;
    });
  }

  private async copy(job: PlannedJob, dir: string, container: JobContainer, status: Status, log: (text: string) => void): Promise<void> {
    const when = job.artifacts?.when ?? 'on_success';
    if (!artifactsWanted(when, status)) {
      this.results.set(job.id, { kind: 'none', reason: `when: ${when}, and the job ${status === 'passed' ? 'passed' : 'failed'}` });
      return;
    }
    const files: CopiedFile[] = [];
    try {
      const walk = await forEachArtifactFile({
        container, patterns: job.artifacts?.paths ?? [], maxBytes: this.maxJobBytes, log,
        onFile: async (rel, entry) => {
          const file = join(dir, ...rel.split('/'));
          const inside = relative(dir, file);
          // relativeEntryPath already drops '..' entries; this keeps the promise where the write happens.
          if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) throw new Error(`artifact ${rel} refused: it leaves ${dir}`);
          await mkdir(dirname(file), { recursive: true });
          // Written beside the file and renamed over it: a link already at that name is replaced, never written through.
          const part = `${file}.kiln-part-${randomBytes(3).toString('hex')}`;
          try {
            await pipeline(entry, createWriteStream(part, { flags: 'wx', mode: ((entry.mode ?? 0o644) & 0o777) | 0o600 }));
            await rename(part, file);
          } catch (err) {
            await rm(part, { force: true });
            throw err;
          }
          files.push({ path: rel, file, size: entry.size });
        },
      });
      for (const line of collectedLines(walk)) log(line);
      const refused = walk.refused.length > 0 ? refusedPatternsError(walk.refused) : undefined;
      if (walk.files > 0) this.results.set(job.id, { kind: 'copied', dir, files, bytes: walk.bytes, refused: walk.refused, unmatched: walk.unmatched });
      else this.results.set(job.id, { kind: 'none', reason: refused?.message ?? collectedLines(walk)[0].replace(/^artifacts: /, '') });
      if (refused) throw refused;
    } catch (err) {
      if (!this.results.has(job.id)) {
        // As on the server, a job over the limit (or whose copy broke) keeps none of its files.
        for (const f of files) await rm(f.file, { force: true });
        this.results.set(job.id, { kind: 'none', reason: err instanceof Error ? err.message : String(err) });
      }
      throw err;
    }
  }

  /** The needs' files at their workspace paths, as one tar; when two needs have a path, the later need wins (the server's rule). */
  private async putUpstream(container: JobContainer, upstream: string[], log: (text: string) => void): Promise<void> {
    const copied = upstream.map((id): [string, CopiedFile[]] => {
      const r = this.results.get(id);
      return [id, r?.kind === 'copied' ? r.files : []];
    });
    const items = upstreamFiles(copied, log);
    if (items.length === 0) return;
    await putIntoWorkspace(container, items.map((f) => ({ path: f.path, size: f.size, open: async () => createReadStream(f.file) })), log);
  }
}
