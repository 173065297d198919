/**
 * Host-side git: one bare mirror per repository URL under `mirrorsDir`, fetched on demand, from
 * which a commit's tree is streamed (`git archive`) into the job container. No host path is ever
 * mounted into a container, so this works the same with a remote Docker engine.
 *
 * Safety rules (every call):
 *   - git runs through execFile with an argv array, never a shell;
 *   - refs are validated (no leading '-', no control characters) and passed after
 *     `--end-of-options`; commits reaching `git archive` are full 40-hex SHAs;
 *   - credentials travel in the environment (http.extraHeader through GIT_CONFIG_*, an ssh key
 *     through GIT_SSH_COMMAND), never in argv; URL userinfo is stripped before git sees the URL and
 *     redacted from every message;
 *   - only the file, git, http(s) and ssh transports are allowed (no `ext::`).
 * Concurrent fetches of one mirror are serialised: in-process by a promise chain, across processes
 * by a lock directory next to the mirror.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { readGitObject } from './git-object-reader.js';
import { isDiskFull } from '../core/disk-full.js';

export interface GitCredentials {
  username?: string;
  password?: string;
  sshKeyFile?: string;
}

export interface GitSource {
  url: string;
  credentials?: GitCredentials;
}

export class CheckoutError extends Error {
  constructor(message: string) {
    super(redactUrl(message));
    this.name = 'CheckoutError';
  }
}

/** Replaces the userinfo of every URL in `text` with `***`. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
}

const SHA = /^[0-9a-f]{40}$/;

/** Throws for refs that could be read as options or that git would not accept anyway. */
export function validateRef(ref: string): void {
  if (ref === '' || ref.startsWith('-') || /[\0-\x20\x7f~^:?*[\\]/.test(ref) || ref.includes('..') || ref.includes('@{')) {
    throw new CheckoutError(`invalid git ref '${ref.replace(/[\0-\x1f\x7f]/g, '?')}'`);
  }
}

interface ParsedUrl {
  url: string;
  username?: string;
  password?: string;
}

/** Moves userinfo out of the URL (git must never see it in argv); resolves local paths. */
function splitUrl(source: GitSource): ParsedUrl {
  const raw = source.url.trim();
  if (raw.startsWith('-')) throw new CheckoutError(`invalid repository URL '${raw}'`);
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/@\s]+)@(.*)$/i.exec(raw);
  let url = raw;
  let username = source.credentials?.username;
  let password = source.credentials?.password;
  if (m) {
    url = m[1] + m[3];
    const [user, pass] = m[2].split(':');
    username ??= decodeURIComponent(user);
    if (pass !== undefined) password ??= decodeURIComponent(pass);
  }
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/]+@[^/]+:/.test(url);
  if (!isUrl && !isAbsolute(url)) url = resolve(url);
  return { url, username, password };
}

function gitEnv(source: GitSource, parsed: ParsedUrl): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ALLOW_PROTOCOL: 'file:git:http:https:ssh',
    GIT_CONFIG_NOSYSTEM: '1',
    LC_ALL: 'C',
  };
  for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY']) delete env[k];
  if (parsed.password !== undefined) {
    const basic = Buffer.from(`${parsed.username ?? 'git'}:${parsed.password}`).toString('base64');
    env.GIT_CONFIG_COUNT = '1';
    env.GIT_CONFIG_KEY_0 = 'http.extraHeader';
    env.GIT_CONFIG_VALUE_0 = `Authorization: Basic ${basic}`;
  }
  const key = source.credentials?.sshKeyFile;
  if (key) {
    const quoted = `'${key.replace(/'/g, `'\\''`)}'`;
    env.GIT_SSH_COMMAND = `ssh -i ${quoted} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new`;
  }
  return env;
}

function git(args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile('git', args, { cwd, env, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const detail = (stderr || err.message).trim().split('\n').slice(-3).join('; ');
        reject(new CheckoutError(`git ${args[0] === '-C' ? args[2] : args[0]} failed: ${detail}`));
      } else {
        resolvePromise(stdout);
      }
    });
  });
}

/** The URL git is given (userinfo moved out) and the environment carrying the credentials, for other git calls of this folder. */
export function gitInvocation(source: GitSource): { url: string; env: NodeJS.ProcessEnv } {
  const parsed = splitUrl(source);
  return { url: parsed.url, env: gitEnv(source, parsed) };
}

/** The mirror directory of a repository source (created on its first checkout). */
export function mirrorPathOf(source: GitSource, mirrorsDir: string): string {
  return mirrorPathFor(splitUrl(source).url, mirrorsDir);
}

export function mirrorPathFor(url: string, mirrorsDir: string): string {
  const digest = createHash('sha256').update(url).digest('hex').slice(0, 24);
  return join(mirrorsDir, `${digest}.git`);
}

const inProcessLocks = new Map<string, Promise<unknown>>();
const LOCK_STALE_MS = 10 * 60 * 1000;

async function acquireDirLock(lockDir: string): Promise<void> {
  for (;;) {
    try {
      await mkdir(lockDir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another process holds it; a lock older than any fetch is left over from a crash.
      const info = await stat(lockDir).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > LOCK_STALE_MS) await rm(lockDir, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Runs `fn` holding the mirror's lock (in-process and cross-process). */
async function withMirrorLock<T>(mirror: string, fn: () => Promise<T>): Promise<T> {
  const previous = inProcessLocks.get(mirror) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(async () => {
    const lockDir = `${mirror}.lock`;
    await acquireDirLock(lockDir);
    try {
      return await fn();
    } finally {
      await rm(lockDir, { recursive: true, force: true });
    }
  });
  inProcessLocks.set(mirror, run);
  try {
    return await run;
  } finally {
    if (inProcessLocks.get(mirror) === run) inProcessLocks.delete(mirror);
  }
}

async function hasCommit(mirror: string, sha: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    await git(['-C', mirror, 'cat-file', '-e', `${sha}^{commit}`], env);
    return true;
  } catch {
    return false;
  }
}

const REFSPECS = ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*', '+refs/pull/*/head:refs/pull/*/head'];

interface Mirror {
  dir: string;
  env: NodeJS.ProcessEnv;
  url: string;
}

/** The mirror for a source, created if missing; fetched when `sha` is not in it yet (or always, without a sha). */
async function ensureMirror(source: GitSource, mirrorsDir: string, sha?: string): Promise<Mirror> {
  const parsed = splitUrl(source);
  const env = gitEnv(source, parsed);
  const dir = mirrorPathFor(parsed.url, mirrorsDir);
  const mirror = { dir, env, url: parsed.url };
  if (sha && (await stat(dir).catch(() => undefined)) && (await hasCommit(dir, sha, env))) return mirror;
  await mkdir(mirrorsDir, { recursive: true });
  await withMirrorLock(dir, async () => {
    if (!(await stat(join(dir, 'HEAD')).catch(() => undefined))) {
      await rm(dir, { recursive: true, force: true });
      await git(['init', '--bare', '--quiet', '--', dir], env);
    }
    if (sha && (await hasCommit(dir, sha, env))) return;
    try {
      await git(['-C', dir, 'fetch', '--quiet', '--prune', '--force', '--', parsed.url, ...REFSPECS], env);
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      // The half-received pack is no use to anyone, and its room is what the next write needs.
      await removeTemporaryPacks(dir);
      throw new CheckoutError(`disk full: the mirror fetch of ${redactUrl(parsed.url)} failed (${(err as Error).message}); what the mirror had before is kept`);
    }
    // A commit on no branch or tag (a detached HEAD, a PR merge ref) can still be fetched by id.
    if (sha && !(await hasCommit(dir, sha, env))) {
      await git(['-C', dir, 'fetch', '--quiet', '--', parsed.url, sha], env).catch(() => undefined);
    }
  });
  if (sha && !(await hasCommit(dir, sha, env))) {
    throw new CheckoutError(`commit ${sha} is not in ${redactUrl(parsed.url)}`);
  }
  return mirror;
}

/**
 * Deletes the temporary files a failed fetch leaves in a bare mirror: a half-received pack
 * (objects/pack/tmp_pack_*, small fetches unpacked as objects/xx/tmp_obj_*) and quarantine dirs.
 */
async function removeTemporaryPacks(dir: string): Promise<void> {
  const objects = join(dir, 'objects');
  const remove = async (sub: string, keep: (name: string) => boolean): Promise<void> => {
    for (const name of await readdir(join(objects, sub)).catch(() => [] as string[])) {
      if (!keep(name)) await rm(join(objects, sub, name), { recursive: true, force: true });
    }
  };
  await remove('pack', (n) => !n.startsWith('tmp_'));
  for (const sub of await readdir(objects).catch(() => [] as string[])) {
    if (/^[0-9a-f]{2}$/.test(sub)) await remove(sub, (n) => !n.startsWith('tmp_obj_'));
  }
  await remove('', (n) => !n.startsWith('incoming-'));
}

/** A branch, tag or (abbreviated) SHA → the full commit SHA, after fetching the mirror. */
export async function resolveCommit(source: GitSource, ref: string, mirrorsDir: string): Promise<string> {
  validateRef(ref);
  const lower = ref.toLowerCase();
  const mirror = await ensureMirror(source, mirrorsDir, SHA.test(lower) ? lower : undefined);
  const candidates = ref.startsWith('refs/') ? [ref] : [ref, `refs/heads/${ref}`, `refs/tags/${ref}`];
  for (const candidate of candidates) {
    try {
      const out = await git(['-C', mirror.dir, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${candidate}^{commit}`], mirror.env);
      const sha = out.trim();
      if (SHA.test(sha)) return sha;
    } catch {
      // try the next spelling
    }
  }
  throw new CheckoutError(`'${ref}' is not a branch, tag or commit of ${redactUrl(mirror.url)}`);
}

function assertSha(sha: string): void {
  if (!SHA.test(sha)) throw new CheckoutError(`'${sha}' is not a full commit SHA`);
}

/**
 * Mirror directories seen with a HEAD, so a read skips the stat (a webhook burst reads once per
 * delivery). Only a shortcut: a mirror removed since makes the read miss, which clears the entry
 * and falls back to ensureMirror exactly as if it had never been seen.
 */
const knownMirrors = new Set<string>();

/**
 * The content of `path` at commit `sha` as UTF-8, or undefined when the commit has no such file.
 * Reads through the mirror's long-lived `git cat-file --batch` (see git-object-reader.ts); fetches
 * only when the mirror does not have the commit yet.
 */
export async function readFileAtCommit(source: GitSource, sha: string, path: string, mirrorsDir: string): Promise<string | undefined> {
  assertSha(sha);
  const clean = path.replace(/^\.?\/+/, '');
  if (clean === '' || clean.split('/').includes('..')) throw new CheckoutError(`invalid path '${path}'`);
  const parsed = splitUrl(source);
  // The environment matters only when a reader process starts: build it then, not per read.
  const env = () => gitEnv(source, parsed);
  const dir = mirrorPathFor(parsed.url, mirrorsDir);
  const spec = `${sha}:${clean}`;
  if (knownMirrors.has(dir) || (await stat(join(dir, 'HEAD')).catch(() => undefined))) {
    knownMirrors.add(dir);
    const hit = await readGitObject(dir, env, spec).catch(() => undefined);
    if (hit) return hit.type === 'blob' ? hit.content.toString('utf8') : undefined;
    // No such file — or no such commit yet (or the mirror is gone): only the latter need a fetch.
    if (await readGitObject(dir, env, `${sha}^{commit}`).catch(() => undefined)) return undefined;
    knownMirrors.delete(dir);
  }
  const mirror = await ensureMirror(source, mirrorsDir, sha);
  knownMirrors.add(dir);
  const object = await readGitObject(mirror.dir, mirror.env, spec);
  return object?.type === 'blob' ? object.content.toString('utf8') : undefined;
}

export interface ArchiveStream {
  stream: Readable;
  /** Resolves when git exits successfully; rejects with its error otherwise. */
  done: Promise<void>;
  kill(): void;
}

/** Fetches as needed, then streams the tree of `sha` as a tar (no .git directory). */
export async function archiveCommit(source: GitSource, sha: string, mirrorsDir: string, prefix = ''): Promise<ArchiveStream> {
  assertSha(sha);
  const mirror = await ensureMirror(source, mirrorsDir, sha);
  const child = spawn('git', ['-C', mirror.dir, 'archive', '--format=tar', `--prefix=${prefix}`, sha], { env: mirror.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<void>((resolvePromise, reject) => {
    child.once('error', (err) => reject(new CheckoutError(`git archive failed: ${err.message}`)));
    child.once('close', (code) => (code === 0 ? resolvePromise() : reject(new CheckoutError(`git archive failed: ${stderr.trim()}`))));
  });
  return { stream: child.stdout, done, kill: () => child.kill('SIGKILL') };
}

/** For `kiln run --repo DIR`: the SHA of `ref` in a local repository (its own refs, HEAD included). */
export async function resolveLocalCommit(repoDir: string, ref: string): Promise<string> {
  // Revision syntax (HEAD~2, v1.0^) is fine here; only option-like or control-character input is not.
  if (ref === '' || ref.startsWith('-') || /[\0-\x1f\x7f]/.test(ref)) throw new CheckoutError(`invalid git revision '${ref}'`);
  const env = gitEnv({ url: repoDir }, { url: repoDir });
  const out = await git(['-C', repoDir, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], env).catch(() => {
    throw new CheckoutError(`'${ref}' is not a commit in ${repoDir}`);
  });
  return out.trim();
}

/** True when `dir` is inside a git work tree (or is a bare repository). */
export async function isGitRepository(dir: string): Promise<boolean> {
  try {
    await git(['-C', dir, 'rev-parse', '--git-dir'], gitEnv({ url: dir }, { url: dir }));
    return true;
  } catch {
    return false;
  }
}
