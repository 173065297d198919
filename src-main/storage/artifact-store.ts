/**
 * Artifacts: files a job leaves in its workspace, matched by glob patterns, kept content-addressed
 * under <dataDir>/blobs with one `artifacts` row per file.
 *
 * Collection reads the workspace through the container's own archive API (getArchive), so it works
 * the same with a remote Docker engine, and filters the tar entries on the host while streaming:
 * only regular files are kept. Symlinks (and hard links) are never followed — their entries are
 * skipped — so a link to /etc/passwd can never upload its target. Patterns are relative to the
 * workspace: absolute patterns and `..` segments are refused. A per-job byte limit (default 1 GiB)
 * stops the upload and fails the job.
 */
import { randomUUID } from 'node:crypto';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import picomatch from 'picomatch';
import type { ReadEntry } from 'tar';
import type { ArtifactInfo } from '../../shared/model/run.js';
import type { JobContainer } from '../core/job-contract.js';
import { isDiskFull } from '../core/disk-full.js';
import { BlobStore, BlobTooLargeError } from './blob-store.js';
import type { Db } from './db.js';
import { forEachTarEntry, isRegularFileEntry, tarStream, type TarSource } from './tar-streams.js';
import { formatBytes } from '../../shared/format.js';
import { patternProblem } from '../../shared/workspace-pattern.js';

export const DEFAULT_MAX_JOB_ARTIFACT_BYTES = 1024 ** 3;
export const DEFAULT_ARTIFACT_EXPIRE_MS = 30 * 24 * 3600 * 1000;

export interface ArtifactStoreOptions {
  /** Total bytes one job may upload. Default 1 GiB. */
  maxJobBytes?: number;
  now?: () => number;
  /** expires_at = created_at + this when the job sets no `expire-in`. Default 30 days (retention.artifactsMs). */
  defaultExpireMs?: number;
}

export interface CollectRequest {
  container: JobContainer;
  runId: string;
  jobId: string;
  patterns: string[];
  expireInMs?: number;
  log: (text: string) => void;
  /** Whether the attempt collecting still holds the job; when false nothing is recorded. Default: always. */
  current?: () => boolean;
}

interface ArtifactRow {
  id: string;
  run_id: string;
  job_id: string;
  path: string;
  size: number;
  sha256: string;
  created_at: number;
  expires_at: number | null;
}

function toInfo(r: ArtifactRow): ArtifactInfo {
  const info: ArtifactInfo = { id: r.id, runId: r.run_id, jobId: r.job_id, path: r.path, size: r.size, sha256: r.sha256, createdAt: r.created_at };
  if (r.expires_at !== null) info.expiresAt = r.expires_at;
  return info;
}

/** Why an artifact pattern is refused (the rule is shared with test reports and `kiln validate`). */
export { patternProblem };

/** A matcher for workspace-relative file paths; a pattern naming a directory matches everything below it. */
export function workspaceMatcher(patterns: string[]): (path: string) => boolean {
  const include = patterns.filter((p) => !p.startsWith('!')).map((p) => picomatch(stripDot(p), { dot: true }));
  const exclude = patterns.filter((p) => p.startsWith('!')).map((p) => picomatch(stripDot(p.slice(1)), { dot: true }));
  const hits = (ms: picomatch.Matcher[], path: string): boolean => {
    if (ms.some((m) => m(path))) return true;
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (ms.some((m) => m(dir))) return true;
    }
    return false;
  };
  return (path) => hits(include, path) && !hits(exclude, path);
}

function stripDot(p: string): string {
  let s = p.replace(/\\/g, '/');
  while (s.startsWith('./')) s = s.slice(2);
  return s.replace(/\/+$/, '');
}

/**
 * The workspace subtrees to archive: the first path segment of each pattern's literal base, or the
 * whole workspace ('') when some pattern starts with a glob. Only the FIRST segment is used: the
 * archive API resolves symlinks in every component but the last, so archiving `dist/sub` when
 * `dist` is a link would read outside the workspace; archiving `dist` itself yields the link entry.
 */
export function archiveRoots(patterns: string[]): string[] {
  const roots = new Set<string>();
  for (const p of patterns) {
    if (p.startsWith('!')) continue;
    const base = picomatch.scan(stripDot(p)).base;
    const first = base.split('/')[0] ?? '';
    if (first === '' || first === '.') return [''];
    roots.add(first);
  }
  return [...roots].sort();
}

/**
 * The workspace archives that can hold files matching `patterns`, one per archive root (none when
 * every pattern is a negation). A root that does not exist in the workspace is passed over: no file
 * can match below it.
 */
export async function* workspaceArchives(container: JobContainer, patterns: string[]): AsyncGenerator<{ root: string; archive: Readable }> {
  for (const root of patterns.some((p) => !p.startsWith('!')) ? archiveRoots(patterns) : []) {
    const source = root === '' ? container.workspace : posix.join(container.workspace, root);
    let archive: Readable;
    try {
      archive = await container.getArchive(source);
    } catch {
      continue;
    }
    yield { root, archive };
  }
}

export interface ArtifactFileWalk {
  container: JobContainer;
  patterns: string[];
  /** Bytes the job may collect in total; a file that would go over throws ArtifactLimitError. */
  maxBytes: number;
  log: (text: string) => void;
  /** Takes one matching regular file: must read `entry` to its end. `maxBytes` is what is left of the limit. */
  onFile: (rel: string, entry: ReadEntry, maxBytes: number) => Promise<void>;
}

/**
 * The one rule for collecting a job's artifacts, wherever they go (the server's blobs, `kiln run`'s
 * directory): each refused pattern is logged and left out; the regular files the valid patterns match
 * are handed to `onFile`, one at a time, by workspace-relative path; links are skipped with a line;
 * the byte limit stops the walk. The caller logs collectedLines and then throws refusedPatternsError
 * when some pattern was refused (the files of the valid ones are kept).
 */
export async function forEachArtifactFile(w: ArtifactFileWalk): Promise<ArtifactWalkResult> {
  const refused: string[] = [];
  const valid: string[] = [];
  for (const p of w.patterns) {
    const problem = patternProblem(p);
    if (problem) {
      refused.push(p);
      w.log(`artifact pattern '${p}' refused: it ${problem}`);
    } else valid.push(p);
  }
  const matches = workspaceMatcher(valid);
  // Which patterns found something (a file or a skipped link), to name the ones that found nothing.
  const negations = valid.filter((p) => p.startsWith('!'));
  const unmatched = new Map(valid.filter((p) => !p.startsWith('!')).map((p) => [p, workspaceMatcher([p, ...negations])]));
  let files = 0;
  let bytes = 0;
  for await (const { root, archive } of workspaceArchives(w.container, valid)) {
    await forEachTarEntry(archive, async (entry: ReadEntry) => {
      const rel = relativeEntryPath(entry.path, root);
      if (rel === undefined || !matches(rel)) {
        entry.resume();
        return;
      }
      for (const [p, m] of unmatched) if (m(rel)) unmatched.delete(p);
      const isFile = isRegularFileEntry(entry, (kind) =>
        w.log(`artifact ${rel} skipped: it is a ${kind === 'symlink' ? `symlink to ${entry.linkpath ?? '?'}` : kind}, and links are not followed`));
      if (!isFile) return;
      if (bytes + entry.size > w.maxBytes) {
        entry.resume();
        throw new ArtifactLimitError(w.maxBytes, rel);
      }
      bytes += entry.size;
      files++;
      await w.onFile(rel, entry, w.maxBytes - (bytes - entry.size));
    });
  }
  return { valid, refused, unmatched: [...unmatched.keys()], files, bytes };
}

export interface ArtifactWalkResult {
  /** The patterns used, and the ones refused (each logged). */
  valid: string[];
  refused: string[];
  /** Valid patterns (not negations) that matched nothing. */
  unmatched: string[];
  files: number;
  bytes: number;
}

/** The job log's lines once the artifacts are collected: how many files and bytes, and the patterns that matched nothing. */
export function collectedLines(walk: ArtifactWalkResult): string[] {
  if (walk.files === 0) return [`artifacts: no files match ${walk.valid.map((p) => `'${p}'`).join(', ') || 'the patterns'}`];
  const stored = `artifacts: ${walk.files} file${walk.files === 1 ? '' : 's'} stored (${formatBytes(walk.bytes)})`;
  return walk.unmatched.length === 0 ? [stored] : [stored, `artifacts: no files match ${walk.unmatched.map((p) => `'${p}'`).join(', ')}`];
}

/** What fails the job when some pattern was refused (each was logged when found). */
export function refusedPatternsError(refused: string[]): Error {
  return new Error(`artifact pattern${refused.length > 1 ? 's' : ''} ${refused.map((p) => `'${p}'`).join(', ')} refused: patterns must be relative to the workspace and must not contain '..'`);
}

export class ArtifactStore {
  readonly blobs: BlobStore;
  private readonly maxJobBytes: number;
  private readonly now: () => number;
  private defaultExpireMs: number;

  constructor(private readonly db: Db, dataDir: string, options: ArtifactStoreOptions = {}) {
    this.blobs = new BlobStore(join(dataDir, 'blobs'));
    this.maxJobBytes = options.maxJobBytes ?? DEFAULT_MAX_JOB_ARTIFACT_BYTES;
    this.now = options.now ?? Date.now;
    this.defaultExpireMs = options.defaultExpireMs ?? DEFAULT_ARTIFACT_EXPIRE_MS;
  }

  /** retention.artifacts changed in the settings: artifacts collected from now on expire after `ms`. */
  setDefaultExpiry(ms: number): void {
    this.defaultExpireMs = ms;
  }

  list(runId: string): ArtifactInfo[] {
    return (this.db.prepare('SELECT * FROM artifacts WHERE run_id = ? ORDER BY job_id, path').all(runId) as ArtifactRow[]).map(toInfo);
  }

  listForJob(jobId: string): ArtifactInfo[] {
    return (this.db.prepare('SELECT * FROM artifacts WHERE job_id = ? ORDER BY path').all(jobId) as ArtifactRow[]).map(toInfo);
  }

  get(id: string): ArtifactInfo | undefined {
    const row = this.db.prepare('SELECT * FROM artifacts WHERE id = ?').get(id) as ArtifactRow | undefined;
    return row && toInfo(row);
  }

  /** The artifact and a stream of its content; undefined when the id is unknown or its blob is gone. */
  async open(id: string): Promise<{ info: ArtifactInfo; stream: Readable } | undefined> {
    const info = this.get(id);
    if (!info) return undefined;
    const blob = await this.blobs.open(info.sha256);
    return blob && { info, stream: blob.stream };
  }

  /**
   * Collects the files matching `patterns` from the container's workspace and records them.
   * Refused patterns are logged and then fail the collection (after the valid ones were stored),
   * as does exceeding the per-job limit (nothing of the job is recorded then).
   */
  async collect(req: CollectRequest): Promise<ArtifactInfo[]> {
    const { log } = req;
    const collected = new Map<string, { size: number; sha256: string }>();
    const pinned: string[] = [];
    try {
      const walk = await forEachArtifactFile({
        container: req.container, patterns: req.patterns, maxBytes: this.maxJobBytes, log,
        onFile: async (rel, entry, maxBytes) => {
          const blob = await this.blobs.write(entry, { maxBytes });
          pinned.push(blob.sha256);
          collected.set(rel, { size: blob.size, sha256: blob.sha256 });
        },
      });
      // A stale attempt (its job queued again, or run by a newer one) records nothing: the blobs it
      // wrote are unpinned below and go with the next blob sweep.
      if (req.current && !req.current()) return [];
      const created = this.now();
      const expiresAt = created + (req.expireInMs ?? this.defaultExpireMs);
      const rows: ArtifactRow[] = [...collected].map(([path, c]) => ({
        id: randomUUID(), run_id: req.runId, job_id: req.jobId, path, size: c.size, sha256: c.sha256, created_at: created, expires_at: expiresAt,
      }));
      const insert = this.db.prepare(
        'INSERT INTO artifacts (id, run_id, job_id, path, size, sha256, created_at, expires_at) VALUES (@id, @run_id, @job_id, @path, @size, @sha256, @created_at, @expires_at)',
      );
      this.db.transaction(() => {
        // A retried attempt replaces what an earlier attempt of the job uploaded at the same paths.
        const del = this.db.prepare('DELETE FROM artifacts WHERE job_id = ? AND path = ?');
        for (const r of rows) {
          del.run(r.job_id, r.path);
          insert.run(r);
        }
      })();
      for (const line of collectedLines(walk)) log(line);
      if (walk.refused.length > 0) throw refusedPatternsError(walk.refused);
      return rows.map(toInfo);
    } catch (err) {
      if (err instanceof BlobTooLargeError) throw new ArtifactLimitError(this.maxJobBytes);
      throw err;
    } finally {
      for (const sha of pinned) this.blobs.unpin(sha);
    }
  }

  /**
   * Puts the artifacts of `jobIds` into the container's workspace at their recorded paths, as one
   * tar streamed from the blobs. When two jobs stored the same path, the later job in `jobIds` wins.
   * Returns the number of files put.
   */
  async restoreInto(container: JobContainer, jobIds: string[], log: (text: string) => void): Promise<number> {
    const items = upstreamFiles(jobIds.map((jobId) => [jobId, this.listForJob(jobId)]), log);
    if (items.length === 0) return 0;
    for (const a of items) this.blobs.pin(a.sha256);
    try {
      const sources: TarSource[] = items.map((a) => ({
        path: a.path,
        size: a.size,
        mtime: new Date(a.createdAt),
        open: async () => {
          const blob = await this.blobs.open(a.sha256);
          if (!blob) throw new Error(`artifact ${a.path} (${a.id}) has no stored content any more`);
          return blob.stream;
        },
      }));
      await putIntoWorkspace(container, sources, log);
      return items.length;
    } finally {
      for (const a of items) this.blobs.unpin(a.sha256);
    }
  }

  /**
   * Stores one file from a stream (for artifacts produced outside a container, and for tests).
   * Subject to the per-job limit for this one file.
   */
  async store(req: { runId: string; jobId: string; path: string; source: Readable | AsyncIterable<Buffer>; expireInMs?: number }): Promise<ArtifactInfo> {
    const problem = patternProblem(req.path);
    if (problem) throw new Error(`artifact path '${req.path}' refused: it ${problem}`);
    let blob;
    try {
      blob = await this.blobs.write(req.source, { maxBytes: this.maxJobBytes });
    } catch (err) {
      if (err instanceof BlobTooLargeError) throw new ArtifactLimitError(this.maxJobBytes, req.path);
      throw err;
    }
    try {
      const created = this.now();
      const row: ArtifactRow = {
        id: randomUUID(), run_id: req.runId, job_id: req.jobId, path: stripDot(req.path), size: blob.size, sha256: blob.sha256,
        created_at: created, expires_at: created + (req.expireInMs ?? this.defaultExpireMs),
      };
      this.db.prepare(
        'INSERT INTO artifacts (id, run_id, job_id, path, size, sha256, created_at, expires_at) VALUES (@id, @run_id, @job_id, @path, @size, @sha256, @created_at, @expires_at)',
      ).run(row);
      return toInfo(row);
    } finally {
      this.blobs.unpin(blob.sha256);
    }
  }

  /**
   * Deletes artifact rows expired at `now`; rows without an expiry expire `maxAgeMs` after their
   * creation. Blobs are swept separately (sweepBlobs). Returns the removed rows.
   */
  deleteExpired(now: number, maxAgeMs: number = this.defaultExpireMs): ArtifactInfo[] {
    const where = '(expires_at IS NOT NULL AND expires_at <= @now) OR (expires_at IS NULL AND created_at <= @cutoff)';
    return this.db.transaction(() => {
      const params = { now, cutoff: now - maxAgeMs };
      const rows = this.db.prepare(`SELECT * FROM artifacts WHERE ${where}`).all(params) as ArtifactRow[];
      this.db.prepare(`DELETE FROM artifacts WHERE ${where}`).run(params);
      return rows.map(toInfo);
    })();
  }

  /**
   * Deletes every artifact (the Storage page). On a full disk the database cannot even delete rows
   * (WAL mode appends first), so then the blob files go first — that needs no room — and the rows
   * after, in the room that made. Returns how many artifacts were deleted.
   */
  deleteAll(): number {
    try {
      const n = this.deleteExpired(Number.MAX_SAFE_INTEGER, 0).length;
      this.sweepBlobs();
      return n;
    } catch (err) {
      if (!isDiskFull(err)) throw err;
    }
    const shas = this.db.prepare('SELECT DISTINCT sha256 FROM artifacts').pluck().all() as string[];
    for (const sha of shas) this.blobs.removeUnpinned(sha);
    return this.deleteExpired(Number.MAX_SAFE_INTEGER, 0).length;
  }

  /** Removes blobs no artifact references (and no writer holds). */
  sweepBlobs(): { blobs: number; bytes: number } {
    const referenced = this.db.prepare('SELECT 1 FROM artifacts WHERE sha256 = ? LIMIT 1');
    return this.blobs.sweep((sha) => referenced.get(sha) !== undefined);
  }
}

export class ArtifactLimitError extends Error {
  constructor(readonly limit: number, at?: string) {
    super(`artifacts exceed the per-job limit of ${formatBytes(limit)}${at ? ` (at ${at})` : ''}; upload stopped, narrow the artifact patterns`);
    this.name = 'ArtifactLimitError';
  }
}

/** Maps an archive entry path to a workspace-relative path; undefined for the root or anything odd. */
export function relativeEntryPath(entryPath: string, root: string): string | undefined {
  const parts = entryPath.replace(/\\/g, '/').split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) return undefined;
  // An archive of <workspace> names entries "<basename>/…"; one of <workspace>/<root> names them "<root>/…".
  const rel = root === '' ? parts.slice(1) : parts;
  if (rel.length === 0) return undefined;
  if (root !== '' && rel[0] !== root) return undefined;
  return rel.join('/');
}

const CONTENT_TYPES: Record<string, string> = {
  txt: 'text/plain; charset=utf-8', log: 'text/plain; charset=utf-8', md: 'text/markdown; charset=utf-8', csv: 'text/csv; charset=utf-8',
  html: 'text/html; charset=utf-8', htm: 'text/html; charset=utf-8', css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8', json: 'application/json', xml: 'application/xml', svg: 'image/svg+xml', png: 'image/png',
  jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', pdf: 'application/pdf', zip: 'application/zip',
  gz: 'application/gzip', tgz: 'application/gzip', tar: 'application/x-tar', jar: 'application/java-archive', wasm: 'application/wasm',
};

/** The Content-Type to serve an artifact with, by its file extension; application/octet-stream otherwise. */
export function contentTypeFor(path: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  return (ext && CONTENT_TYPES[ext]) || 'application/octet-stream';
}

/**
 * The files a job gets from its needs, one per workspace path: when two needs have a path, the later
 * need wins, and the log says so. Shared by the server and `kiln run`.
 */
export function upstreamFiles<T extends { path: string }>(byJob: Array<[jobId: string, files: T[]]>, log: (text: string) => void): T[] {
  const byPath = new Map<string, T>();
  for (const [jobId, files] of byJob) {
    for (const f of files) {
      if (byPath.has(f.path)) log(`artifact ${f.path} is provided by more than one upstream job; using the one from job ${jobId}`);
      byPath.set(f.path, f);
    }
  }
  return [...byPath.values()];
}

/** Puts files into a job's workspace as one tar, with the log line both runners print. */
export async function putIntoWorkspace(container: JobContainer, sources: TarSource[], log: (text: string) => void): Promise<void> {
  // Destroyed however putArchive ends: a Docker error leaves the stream unread, and a file it holds
  // open would otherwise be closed only by garbage collection.
  const archive = tarStream(sources);
  try {
    await container.putArchive(container.workspace, archive);
  } finally {
    archive.destroy();
  }
  const bytes = sources.reduce((n, f) => n + f.size, 0);
  log(`artifacts from upstream jobs: ${sources.length} file${sources.length === 1 ? '' : 's'} (${formatBytes(bytes)}) put into the workspace`);
}
