/**
 * The forge reporter: turns the engine's run and job events into commit statuses and posts them.
 *
 *   onEvent (sync, cheap) → the run ids are noted; once per event-loop turn they are read, their
 *   statuses decided (descriptions.ts) and written to the durable outbox in one transaction →
 *   the pump posts due rows one at a time through the forge client (octokit: pace, retries,
 *   rate limits) → each row ends posted, pending with a later retry time, or failed with a reason.
 *
 * Reporting never blocks a run: the engine's only cost is a Set insert per event. A status in the
 * outbox survives a restart (start() resumes the pump). A row may be posted twice if the process
 * dies between the forge's answer and the write that records it; a repeated status is harmless.
 *
 * Which runs: pushes and pull requests of repositories with a forge token. Contexts never hold the
 * branch: `kiln/<pipeline>` and, with job statuses on, `kiln/<pipeline>/<job name>`.
 *
 * Call order: createForgeReporter → start() → onEvent()* → stop(). stop() is idempotent and does
 * not wait for a request under way (its row stays pending and is posted after the next start).
 */
import type { EngineEvent, ForgeStatusInfo, RunReporting } from '../../shared/api/engine-api.js';
import type { RepositoryReporting } from '../../shared/api/settings-types.js';
import type { RunDetail, RunSummary } from '../../shared/model/run.js';
import { DEFAULT_FORGE_API_URL, type ForgeConfig, type RepositoryConfig } from '../core/engine-contract.js';
import type { Db } from '../storage/db.js';
import { StatusOutbox, type OutboxRow, type StatusToPost } from '../storage/status-outbox.js';
import { createForgeClient, forgeKindOf, ForgeError, toForgeError, type ForgeClient, type ForgeClientOptions } from './client.js';
import { forgeStateOf, jobDescription, runDescription, type RunFacts } from './descriptions.js';
import type { Annotation } from '../../shared/model/job-records.js';
import { COMMENT_LINES, commentBody, PrCommentQueue, type WantedComment } from './pr-comment.js';

export interface ForgeReporterOptions {
  db: Db;
  clock?: () => number;
  repository(name: string): RepositoryConfig | undefined;
  getRun(runId: string): RunDetail | undefined;
  /** The dashboard's public URL (statuses link to `<url>/#/runs/<id>`); undefined: no link. */
  publicUrl?(): string | undefined;
  onError?(message: string, err: unknown): void;
  /** Runs `fn` in the engine's group commit (its writes share the turn's transaction); default: at once. */
  write?<T>(fn: () => T): Promise<T>;
  /** The last `lines` lines of a job's log (masked), for the pull-request comment. */
  logTail?(jobId: string, lines: number): Promise<string[]>;
  /** A run's annotations (masked, errors first), for the pull-request comment. */
  annotations?(runId: string): Annotation[];
  /** Client settings (tests shorten the pace and retries); default GitHub's pace, 2 retries. */
  client?: Pick<ForgeClientOptions, 'writePaceMs' | 'timeoutMs' | 'retries' | 'retryBaseMs'>;
  /** Backoff of the outbox between attempts that failed after the client's own retries: base·2^n, at most max. */
  backoff?: { baseMs?: number; maxMs?: number };
}

export interface ForgeReporter {
  start(): void;
  onEvent(event: EngineEvent): void;
  /** Resolves when nothing is due now (tests, benchmarks); rows waiting for a retry do not count. */
  idle(): Promise<void>;
  runReporting(runId: string): RunReporting;
  repositoryReporting(repo: RepositoryConfig): RepositoryReporting;
  readonly outbox: StatusOutbox;
  stop(): void;
}

const REPORTED_EVENTS = new Set(['push', 'pull_request']);

export function createForgeReporter(o: ForgeReporterOptions): ForgeReporter {
  const clock = o.clock ?? Date.now;
  const outbox = new StatusOutbox(o.db);
  const comments = new PrCommentQueue(o.db);
  const baseMs = o.backoff?.baseMs ?? 5_000;
  const maxMs = o.backoff?.maxMs ?? 10 * 60_000;
  /** Run id → the newest summary its events carried (a run's jobs are read only when a status needs them). */
  const noted = new Map<string, RunSummary | undefined>();
  const clients = new Map<string, ForgeClient>();
  const stopSignal = new AbortController();
  let flushScheduled = false;
  let started = false;
  let stopped = false;
  let pumping: Promise<void> | undefined;
  let dirty = false;
  let writing = 0;
  let timer: NodeJS.Timeout | undefined;
  const idleWaiters: Array<() => void> = [];

  // Runs not yet finished, per repository, as the events report them: "Queued behind N runs" counts
  // the earlier ones without a query over the run history (a webhook burst would make that quadratic).
  const active = new Map<string, Map<string, number>>();
  const newestAt = new Map<string, number>();
  const track = (run: { id: string; repo: string; status: string; createdAt: number }) => {
    let runs = active.get(run.repo);
    if (!runs) active.set(run.repo, (runs = new Map()));
    if (run.status === 'queued' || run.status === 'running') {
      runs.set(run.id, run.createdAt);
      if (run.createdAt > (newestAt.get(run.repo) ?? 0)) newestAt.set(run.repo, run.createdAt);
    } else runs.delete(run.id);
  };
  const queuedBehind = (run: RunDetail) => {
    const runs = active.get(run.repo);
    if (!runs) return 0;
    const others = runs.size - (runs.has(run.id) ? 1 : 0);
    // A new run is usually the newest: then every other unfinished run is ahead of it (no scan).
    if (run.createdAt >= (newestAt.get(run.repo) ?? 0)) return others;
    let n = 0;
    for (const [id, createdAt] of runs) if (id !== run.id && createdAt < run.createdAt) n++;
    return n;
  };
  const supersededBy = o.db.prepare<[string, number], { sha: string }>(`
    SELECT r2.sha FROM runs r1 JOIN runs r2 ON r2.concurrency_group = r1.concurrency_group AND r2.id != r1.id AND r2.created_at >= r1.created_at
    WHERE r1.id = ? AND r1.concurrency_group IS NOT NULL AND r2.created_at <= COALESCE(r1.finished_at, ?) ORDER BY r2.created_at LIMIT 1`);

  const tokenOf = (repo: string): ForgeConfig | undefined => {
    const f = o.repository(repo)?.forge;
    return f?.token ? f : undefined;
  };

  function decide(run: RunDetail, forge: ForgeConfig): StatusToPost[] {
    const facts: RunFacts = {};
    if (run.status === 'queued') facts.queuedBehind = queuedBehind(run);
    if (run.status === 'cancelled') facts.supersededBy = supersededBy.get(run.id, clock())?.sha;
    const base = o.publicUrl?.()?.replace(/\/+$/, '');
    const targetUrl = base ? `${base}/#/runs/${encodeURIComponent(run.id)}` : undefined;
    const common = { repo: run.repo, sha: run.sha, runId: run.id, ...(targetUrl ? { targetUrl } : {}) };
    const out: StatusToPost[] = [{ ...common, context: `kiln/${run.pipeline}`, state: forgeStateOf(run.status), description: runDescription(run, facts) }];
    if (forge.jobStatuses) {
      for (const job of run.jobs) out.push({ ...common, context: `kiln/${run.pipeline}/${job.name}`, state: forgeStateOf(job.status), description: jobDescription(job) });
    }
    return out;
  }

  function flush(): void {
    flushScheduled = false;
    if (stopped) return;
    const ids = [...noted];
    noted.clear();
    const statuses: StatusToPost[] = [];
    for (const [id, summary] of ids) {
      try {
        if (summary && !REPORTED_EVENTS.has(summary.event)) continue;
        const forge = summary ? tokenOf(summary.repo) : undefined;
        if (summary && !forge) continue;
        // Queued, running and passed say nothing about jobs: the event's summary is enough, unless
        // jobs have their own statuses (a burst of deliveries then reads no job rows).
        // A run held by approval gates names them: that needs its jobs.
        const light = summary && !forge?.jobStatuses && !summary.waitingForApproval && ['queued', 'running', 'passed', 'cancelled', 'skipped'].includes(summary.status);
        const run = light ? { ...summary, jobs: [], edges: [], stages: [] } : o.getRun(id);
        if (!run || !REPORTED_EVENTS.has(run.event)) continue;
        const f = forge ?? tokenOf(run.repo);
        if (f) statuses.push(...decide(run, f));
      } catch (err) {
        o.onError?.(`deciding the commit statuses of run ${id} failed`, err);
      }
    }
    let wanted = 0;
    for (const [id, summary] of ids) {
      if (summary && summary.event !== 'pull_request') continue;
      try {
        wanted += considerComment(id) ? 1 : 0;
      } catch (err) {
        o.onError?.(`deciding the pull-request comment of run ${id} failed`, err);
      }
    }
    if (statuses.length === 0 && wanted === 0) {
      if (!pumping && writing === 0) for (const w of idleWaiters.splice(0)) w();
      return;
    }
    const now = clock();
    writing++;
    (o.write ?? ((fn) => Promise.resolve(fn())))(() => outbox.enqueue(statuses, now))
      .then((added) => { if (added > 0 || wanted > 0) wake(); })
      .catch((err: unknown) => {
        outbox.forget();
        o.onError?.('storing commit statuses to post failed', err);
      })
      .finally(() => {
        writing--;
        if (!pumping && !flushScheduled && writing === 0) for (const w of idleWaiters.splice(0)) w();
      });
  }

  /** A failed pull-request run (or a pass after Kiln's comment) wants the comment, when no public URL can link to the run. */
  function considerComment(runId: string): boolean {
    const run = o.getRun(runId);
    if (!run || run.event !== 'pull_request' || run.prNumber === undefined || o.publicUrl?.()) return false;
    const forge = tokenOf(run.repo);
    if (!forge || forge.prComment === false) return false;
    const failed = run.status === 'failed' || run.status === 'timed_out';
    if (!failed && !(run.status === 'passed' && comments.exists(run.repo, run.prNumber, run.pipeline))) return false;
    comments.want(run.repo, run.prNumber, run.pipeline, run.id, clock());
    return true;
  }

  async function postComment(c: WantedComment): Promise<void> {
    const forge = tokenOf(c.repo);
    const run = o.getRun(c.wantedRun);
    if (!forge || !run) {
      comments.markFailed(c, forge ? `run ${c.wantedRun} no longer exists` : `no forge token is set for ${c.repo} any more`);
      return;
    }
    const job = run.jobs.find((j) => j.status === 'failed' || j.status === 'timed_out');
    const tail = job && o.logTail ? await o.logTail(job.id, COMMENT_LINES) : [];
    const token = forge.token ?? '';
    const body = commentBody(run, tail, (line) => (token ? line.split(token).join('***') : line), o.annotations?.(run.id) ?? []);
    const [owner, name] = c.repo.split('/');
    const client = clientFor(forge);
    try {
      let id = c.commentId;
      if (id !== undefined) {
        try {
          await client.updateComment(owner, name, id, body, stopSignal.signal);
        } catch (err) {
          // Deleted on the forge: write a new one.
          if (!(err instanceof ForgeError && err.status === 404)) throw err;
          id = undefined;
        }
      }
      id ??= await client.createComment(owner, name, c.prNumber, body, stopSignal.signal);
      if (stopped) return;
      comments.markPosted(c, id);
    } catch (err) {
      if (stopped) return;
      const e = err instanceof ForgeError ? err : toForgeError(err, clock());
      if (e.fatal) comments.markFailed(c, e.message.replace('Commit statuses: write', 'Pull requests: write'));
      else comments.markRetry(c, Math.max(clock() + Math.min(maxMs, baseMs * 2 ** Math.min(c.attempts, 20)), e.retryAt ?? 0), e.message);
      outbox.setRepoState(c.repo, { ok: false, message: e.message, at: clock() });
    }
  }

  function clientFor(forge: ForgeConfig): ForgeClient {
    const key = `${forge.apiUrl}\n${forge.token}`;
    let c = clients.get(key);
    if (!c) {
      c = createForgeClient({ apiUrl: forge.apiUrl, token: forge.token ?? '', now: clock, ...o.client });
      clients.set(key, c);
    }
    return c;
  }

  async function post(row: OutboxRow): Promise<void> {
    const forge = tokenOf(row.repo);
    if (!forge) {
      outbox.markFailed(row.id, `no forge token is set for ${row.repo} any more`);
      return;
    }
    const [owner, name] = row.repo.split('/');
    try {
      await clientFor(forge).createStatus(owner, name, row.sha, {
        state: row.state, description: row.description, context: row.context, ...(row.targetUrl ? { target_url: row.targetUrl } : {}),
      }, stopSignal.signal);
      if (stopped) return;
      outbox.markPosted(row.id, clock(), { repo: row.repo, state: { ok: true, message: 'statuses posted', at: clock() } });
    } catch (err) {
      if (stopped) return;
      const e = err instanceof ForgeError ? err : toForgeError(err, clock());
      if (e.fatal) outbox.markFailed(row.id, e.message);
      else {
        const backoff = Math.min(maxMs, baseMs * 2 ** Math.min(row.attempts, 20));
        outbox.markRetry(row.id, Math.max(clock() + backoff, e.retryAt ?? 0), e.message);
      }
      outbox.setRepoState(row.repo, { ok: false, message: e.message, at: clock() });
    }
  }

  async function pump(): Promise<void> {
    for (;;) {
      dirty = false;
      const batch = outbox.due(clock(), 32);
      const wanted = comments.due(clock());
      if (batch.length === 0 && wanted.length === 0 && !dirty) break;
      for (const row of batch) {
        if (stopped) return;
        await post(row);
      }
      for (const c of wanted) {
        if (stopped) return;
        await postComment(c);
      }
      if (stopped) return;
    }
  }

  function wake(): void {
    if (!started || stopped) return;
    if (pumping) {
      dirty = true;
      return;
    }
    if (timer) clearTimeout(timer);
    timer = undefined;
    pumping = pump()
      .catch((err: unknown) => o.onError?.('posting commit statuses failed', err))
      .finally(() => {
        pumping = undefined;
        if (stopped) return;
        if (dirty) return wake();
        if (!flushScheduled && writing === 0) for (const w of idleWaiters.splice(0)) w();
        const times = [outbox.nextDueAt(), comments.nextDueAt()].filter((t): t is number => t !== undefined);
        const next = times.length ? Math.min(...times) : undefined;
        if (next !== undefined) {
          timer = setTimeout(wake, Math.max(0, next - clock()));
          timer.unref();
        }
      });
  }

  return {
    outbox,
    start() {
      if (started) return;
      started = true;
      wake();
    },
    onEvent(event) {
      if (stopped) return;
      const runId = event.type === 'run' ? event.run.id : event.type === 'job' ? event.runId : undefined;
      if (!runId) return;
      if (event.type === 'run') track(event.run);
      noted.set(runId, event.type === 'run' ? event.run : noted.get(runId));
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    },
    idle() {
      if (!pumping && !flushScheduled && writing === 0) return Promise.resolve();
      return new Promise((resolve) => {
        idleWaiters.push(resolve);
        if (!pumping) setImmediate(() => { if (!pumping && !flushScheduled && writing === 0) for (const w of idleWaiters.splice(0)) w(); });
      });
    },
    runReporting(runId) {
      const rows = outbox.ofRun(runId);
      const run = o.getRun(runId);
      const enabled = run ? tokenOf(run.repo) !== undefined : false;
      const newest = new Map<string, OutboxRow>();
      for (const r of rows) newest.set(r.context, r);
      const statuses: ForgeStatusInfo[] = [...newest.values()].map((r) => ({
        context: r.context, state: r.state, description: r.description,
        delivery: r.status === 'pending' ? 'queued' : r.status, attempts: r.attempts,
        ...(r.lastError ? { reason: r.lastError } : {}), ...(r.postedAt ? { postedAt: r.postedAt } : {}),
      }));
      const comment = comments.ofRun(runId);
      return { enabled, summary: summarize(statuses, enabled, run), statuses, ...(comment ? { comment } : {}) };
    },
    repositoryReporting(repo) {
      const f = repo.forge;
      const apiUrl = f?.apiUrl ?? DEFAULT_FORGE_API_URL;
      const last = outbox.repoState(repo.name);
      return {
        enabled: Boolean(f?.token), apiUrl, kind: forgeKindOf(apiUrl), tokenSet: Boolean(f?.token), jobStatuses: f?.jobStatuses ?? false, prComment: f?.prComment !== false,
        ...(last ? { lastOutcome: last } : {}),
      };
    },
    stop() {
      if (stopped) return;
      stopped = true;
      stopSignal.abort();
      if (timer) clearTimeout(timer);
      for (const w of idleWaiters.splice(0)) w();
    },
  };
}

function summarize(statuses: ForgeStatusInfo[], enabled: boolean, run: RunDetail | undefined): string {
  if (!enabled && statuses.length === 0) return 'not reported: no forge token is set for this repository';
  if (run && !REPORTED_EVENTS.has(run.event)) return `not reported: only pushes and pull requests post commit statuses (this run is ${run.event})`;
  const failed = statuses.find((s) => s.delivery === 'failed');
  if (failed) return failed.reason ?? 'a status could not be posted';
  const waiting = statuses.filter((s) => s.delivery === 'queued');
  if (waiting.length) {
    const why = waiting.find((s) => s.reason)?.reason;
    return `${waiting.length} status${waiting.length === 1 ? '' : 'es'} waiting to be posted${why ? ` (${why})` : ''}`;
  }
  return statuses.length ? 'statuses posted' : 'no status yet';
}
