/**
 * Turns a trigger event into stored runs: read `.kiln.yml` at the event's commit, parse, match the
 * trigger, plan, then insert the run, its jobs and their queue entries in one transaction.
 * A pipeline file that does not compile still makes a run — a failed one whose error lists the
 * FILE:LINE:COL diagnostics — so the user sees why nothing ran.
 */
import { newId } from '../storage/ids.js';
import picomatch from 'picomatch';
import type { Db } from '../storage/db.js';
import type { GroupCommit } from '../storage/group-commit.js';
import type { RunStore } from '../storage/run-store.js';
import type { Scheduler } from '../queue/scheduler.js';
import type { AcceptedDelivery, RepositoryConfig, TriggerOutcome } from '../core/engine-contract.js';
import type { DeliveryStore } from '../storage/delivery-store.js';
import type { RefHeadStore } from '../storage/ref-head-store.js';
import { CATCH_UP_ACTOR } from '../trigger/catch-up.js';
import type { DeliveryRecord } from '../../shared/model/run.js';
import type { CheckoutPort, PipelinePort } from '../core/ports.js';
import type { Pipeline } from '../pipeline/pipeline-model.js';
import type { Ticket } from './ordered-lane.js';
import type { Plan, PlannedJob } from '../../shared/model/plan.js';
import type { Priority, Status } from '../../shared/model/status.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { runChangesOf, type ChangeSet } from '../../shared/model/change-set.js';
import { formatDiagnostic, hasErrors } from '../../shared/diagnostics.js';
import { PRIORITY_RANK } from '../../shared/model/status.js';
import { runsOnDiagnostics } from '../pipeline/runs-on.js';

export const PIPELINE_FILE = '.kiln.yml';

export interface RunFactoryDeps {
  db: Db;
  store: RunStore;
  scheduler: Scheduler;
  clock: () => number;
  mirrorsDir: string;
  pipeline: PipelinePort<Pipeline>;
  checkout: CheckoutPort;
  /** Run inserts of one event-loop turn share a commit. */
  commits: GroupCommit;
  /** Where a webhook delivery that starts runs is recorded, in their transaction. */
  deliveries: DeliveryStore;
  /** Last-seen remote heads: written with the runs a head starts (catch-up's exactly-once record). */
  heads: RefHeadStore;
  /** The engines jobs can run on, for `runs-on:` (a job none of them can take fails at plan time). */
  engines?: () => ReadonlyArray<{ name: string; labels: readonly string[] }>;
}

/**
 * The exactly-once rule for a head that may arrive twice (webhook and catch-up, in either order or
 * at once). Checked inside the write that would store the run, so two events for one head cannot
 * both pass: the group commit runs writes one after another on one connection.
 */
export interface HeadGuard {
  /**
   * Start nothing when a run has already built this commit of this ref: 'any' run (catch-up: a
   * force push back to a built commit starts nothing), or only one catch-up started (a webhook:
   * its other duplicates are the replay guard's business).
   */
  skipIfBuiltBy: 'any' | 'catch-up';
  /** Count a started run as caught up for the repository's health. */
  caughtUp?: boolean;
}

export interface NewRunSpec {
  event: TriggerEvent;
  plan: Plan;
  priority: Priority;
  concurrencyGroup?: string;
  rerunOf?: string;
  /** Planned job id → status to copy instead of running (re-run of failed jobs only). */
  keep?: Map<string, Status>;
}

/** The branch-glob override from configuration, else the pipeline's own priority. First matching glob wins. */
export function effectivePriority(repo: RepositoryConfig | undefined, branch: string | undefined, pipelinePriority: Priority): Priority {
  if (repo && branch) {
    for (const [glob, level] of Object.entries(repo.priority)) {
      if (picomatch.isMatch(branch, glob, { dot: true })) return level;
    }
  }
  return pipelinePriority;
}

/**
 * The concurrency group a run supersedes within, or undefined when it does not cancel others.
 * Without a `concurrency` block, a new push to a branch supersedes the runs of its earlier commits
 * (and a pull request's new head those of its earlier heads), as users of CI expect; a pipeline
 * opts out with `concurrency: { cancel-in-progress: false }` or picks its own group. Tags and manual
 * runs never supersede anything by default.
 */
export function supersedeGroup(plan: Plan, event: TriggerEvent): string | undefined {
  if (plan.concurrency) {
    if (!plan.concurrency.cancelInProgress) return undefined;
    return plan.concurrency.group || `${event.repo}/${event.branch ?? event.tag ?? event.sha}`;
  }
  if (event.kind === 'push' && event.branch) return `${event.repo}/${event.branch}`;
  if (event.kind === 'pull_request' && event.prNumber !== undefined) return `${event.repo}/pull/${event.prNumber}`;
  return undefined;
}

/** Inserts a run with its jobs and queue entries (one transaction); returns its id. */
export function insertRun(deps: RunFactoryDeps, spec: NewRunSpec): string {
  const id = newId();
  const now = deps.clock();
  // One transaction for the run, its jobs, their queue entries and the release of jobs whose needs
  // were skipped at plan time; events are published after it commits.
  deps.scheduler.batch(() => {
    deps.store.insertRun({
      id, event: spec.event, pipeline: spec.plan.pipeline, priority: spec.priority, concurrencyGroup: spec.concurrencyGroup,
      status: 'queued', plan: spec.plan, rerunOf: spec.rerunOf, createdAt: now,
    });
    const jobs: { id: string; planned: PlannedJob; status: Status }[] = [];
    spec.plan.jobs.forEach((planned, position) => {
      const kept = spec.keep?.get(planned.id);
      const status: Status = planned.skipped ? 'skipped' : kept ?? 'queued';
      const jobId = newId();
      const error = planned.skipped ? planned.skipReason : kept ? 'passed in the earlier run; not run again' : undefined;
      deps.store.insertJob(id, planned, position, jobId, status, now, error);
      jobs.push({ id: jobId, planned, status });
    });
    deps.scheduler.enqueueJobs(id, spec.event.repo, PRIORITY_RANK[spec.priority], jobs);
    deps.scheduler.settleNewRun(id);
  });
  return id;
}

/** A run that failed before any job: bad pipeline file, unreadable commit. */
export function insertFailedRun(deps: RunFactoryDeps, event: TriggerEvent, pipeline: string, error: string): string {
  const id = newId();
  const plan: Plan = { pipeline, priority: 'normal', jobs: [], warnings: [] };
  deps.db.transaction(() => {
    deps.store.insertRun({ id, event, pipeline, priority: 'normal', status: 'failed', error, plan, createdAt: deps.clock() });
  }).immediate();
  return id;
}

export type PlanOutcome =
  | { kind: 'plan'; plan: Plan }
  | { kind: 'failed'; pipeline: string; error: string }
  | { kind: 'none'; reason: string };

/** `.kiln.yml` at the event's commit and the files it includes (repository path → text; undefined: absent). */
export interface PipelineTexts {
  text: string;
  included: ReadonlyMap<string, string | undefined>;
}

/** Reads `.kiln.yml` at `event.sha`, and every file it includes from the same commit: their texts, or why there are none. Never throws. */
export async function readPipelineText(deps: RunFactoryDeps, repo: RepositoryConfig, event: TriggerEvent): Promise<PipelineTexts | PlanOutcome> {
  const source = { url: repo.url, credentials: repo.credentials };
  let path = PIPELINE_FILE;
  try {
    const text = await deps.checkout.readFileAtCommit(source, event.sha, PIPELINE_FILE, deps.mirrorsDir);
    if (text === undefined) return { kind: 'none', reason: `no pipeline file (${PIPELINE_FILE}) at ${event.sha.slice(0, 12)}` };
    const read = (p: string) => {
      path = p;
      return deps.checkout.readFileAtCommit(source, event.sha, p, deps.mirrorsDir);
    };
    const included = deps.pipeline.readIncludes ? await deps.pipeline.readIncludes(text, read) : new Map<string, string | undefined>();
    return { text, included };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { kind: 'failed', pipeline: PIPELINE_FILE, error: `could not read ${path} at ${event.sha.slice(0, 12)} from ${repo.url}: ${message}` };
  }
}

/**
 * The files the event changed, when the pipeline's triggers or job conditions look at them
 * (path filters, changed()); undefined otherwise, or when the pipeline does not compile.
 */
export async function changesFor(deps: RunFactoryDeps, repo: RepositoryConfig, event: TriggerEvent, texts: PipelineTexts): Promise<ChangeSet | undefined> {
  const parsed = parseCached(deps, texts);
  if (!parsed.pipeline || !deps.checkout.changedFiles || !deps.pipeline.needsChangedFiles?.(parsed.pipeline, event)) return undefined;
  const options = { defaultBranch: repo.defaultBranch, ...(repo.maxChangedFiles !== undefined ? { maxFiles: repo.maxChangedFiles } : {}) };
  return deps.checkout.changedFiles({ url: repo.url, credentials: repo.credentials }, deps.mirrorsDir, event, options);
}

type Parsed = ReturnType<PipelinePort<Pipeline>['parsePipeline']>;

/**
 * Parse results by pipeline text. Most pushes do not change `.kiln.yml`, so webhook bursts parse
 * it once; plans still differ per event and are made fresh. Entries are deep-frozen, so sharing
 * them between events can never leak one plan's changes into another.
 */
const parseCaches = new WeakMap<PipelinePort<Pipeline>, Map<string, Parsed>>();
const PARSE_CACHE_SIZE = 64;

function parseCached(deps: RunFactoryDeps, texts: PipelineTexts): Parsed {
  let parsedByText = parseCaches.get(deps.pipeline);
  if (!parsedByText) parseCaches.set(deps.pipeline, (parsedByText = new Map()));
  // With includes, the key is every file's text: an included file may change alone.
  const text = texts.included.size === 0 ? texts.text : `${texts.text}\0${JSON.stringify([...texts.included])}`;
  const hit = parsedByText.get(text);
  if (hit) {
    parsedByText.delete(text); // re-insert: most recently used last
    parsedByText.set(text, hit);
    return hit;
  }
  const parsed = deepFreeze(texts.included.size === 0 ? deps.pipeline.parsePipeline(texts.text, PIPELINE_FILE) : deps.pipeline.parsePipeline(texts.text, PIPELINE_FILE, texts.included));
  parsedByText.set(text, parsed);
  if (parsedByText.size > PARSE_CACHE_SIZE) parsedByText.delete(parsedByText.keys().next().value as string);
  return parsed;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Compiles pipeline texts for an event (parse, trigger match, plan). Synchronous; never throws for
 * the user's mistakes. `changes`: the event's changed files (changesFor), for path filters and changed().
 */
export function compileEvent(deps: RunFactoryDeps, texts: PipelineTexts, event: TriggerEvent, changes?: ChangeSet): PlanOutcome {
  const parsed = parseCached(deps, texts);
  if (!parsed.pipeline || hasErrors(parsed.diagnostics)) {
    const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
    return { kind: 'failed', pipeline: PIPELINE_FILE, error: (errors.length ? errors : parsed.diagnostics).map(formatDiagnostic).join('\n') || `${PIPELINE_FILE}: invalid pipeline` };
  }
  const pipeline = parsed.pipeline;
  if (!deps.pipeline.matchesTrigger(pipeline, event, changes)) {
    if (event.kind === 'manual') return { kind: 'none', reason: `the pipeline opts out of manual runs (on: { manual: false } in ${PIPELINE_FILE}); remove that line to allow them` };
    if (changes?.kind === 'files' && deps.pipeline.matchesTrigger(pipeline, event)) {
      const n = changes.files.length;
      return { kind: 'none', reason: `the pipeline's path filter (on:) matches none of the ${n} file${n === 1 ? '' : 's'} changed in ${changes.range}` };
    }
    return { kind: 'none', reason: `the pipeline's triggers (on:) do not match this ${event.kind} event` };
  }
  const planned = deps.pipeline.planPipeline(pipeline, event, { env: {}, ...(changes ? { changes } : {}) });
  if (!planned.plan || hasErrors(planned.diagnostics)) {
    const name = pipeline.name;
    const errors = planned.diagnostics.filter((d) => d.severity === 'error');
    return { kind: 'failed', pipeline: typeof name === 'string' ? name : PIPELINE_FILE, error: errors.map(formatDiagnostic).join('\n') || `${PIPELINE_FILE}: the pipeline could not be planned` };
  }
  const unrunnable = deps.engines ? runsOnDiagnostics(pipeline, planned.plan, deps.engines()) : [];
  if (unrunnable.length) return { kind: 'failed', pipeline: pipeline.name, error: unrunnable.map(formatDiagnostic).join('\n') };
  if (planned.plan.jobs.length === 0) return { kind: 'none', reason: 'the plan has no jobs' };
  // The run records what its filters saw: "everything changed" (over the cap, not computable) must show.
  return { kind: 'plan', plan: changes ? { ...planned.plan, changes: runChangesOf(changes) } : planned.plan };
}

/**
 * handleEvent without the engine around it: read (concurrently), then in the ticket's turn plan and
 * queue the insert. The insert supersedes older runs of the same concurrency group in the same write,
 * so a burst to one branch cancels each run once (not every earlier one again per later push) and
 * never has two active runs of a group; it returns the running jobs of those runs, which the caller
 * aborts once the write has committed. The ticket is released as soon as the insert is queued (group
 * writes keep their order), so the next event can plan while this one's group commits. A webhook
 * delivery is recorded in the same write, so it and its runs commit together or not at all.
 */
export async function createRunsForEvent(
  deps: RunFactoryDeps, repo: RepositoryConfig, event: TriggerEvent, ticket: Ticket, delivery?: AcceptedDelivery, guard?: HeadGuard,
): Promise<TriggerOutcome & { abort: string[]; delivery?: DeliveryRecord }> {
  try {
    const read = await readPipelineText(deps, repo, event);
    const changes = 'text' in read ? await changesFor(deps, repo, event, read) : undefined;
    await ticket.turn();
    const outcome = 'text' in read ? compileEvent(deps, read, event, changes) : read;
    if (outcome.kind === 'none') {
      // A head that starts nothing is still seen, so the next catch-up pass does not read it again.
      if (guard && event.ref) {
        const ref = event.ref;
        void deps.commits.write(() => deps.heads.setHead(event.repo, ref, event.sha, deps.clock())).catch(() => undefined);
      }
      return { runIds: [], reason: outcome.reason, abort: [] };
    }
    const written = deps.commits.write(() => {
      const duplicate = guard ? alreadyBuilt(deps, event, guard) : undefined;
      if (duplicate) return { runIds: [], reason: duplicate, abort: [] };
      recordHead(deps, event, guard);
      if (outcome.kind === 'failed') {
        const stored = { runIds: [insertFailedRun(deps, event, outcome.pipeline, outcome.error)], reason: outcome.error };
        return { ...stored, abort: [], delivery: recordDelivery(deps, event, delivery, stored) };
      }
      const plan = outcome.plan;
      const group = supersedeGroup(plan, event);
      const runId = insertRun(deps, { event, plan, priority: effectivePriority(repo, event.branch, plan.priority), concurrencyGroup: group });
      const superseded = group ? deps.store.activeRunsInGroup(group, runId) : [];
      const abort = superseded.flatMap((old) => deps.scheduler.cancelRun(old));
      return { runIds: [runId], abort, delivery: recordDelivery(deps, event, delivery, { runIds: [runId] }) };
    });
    ticket.done();
    return await written;
  } finally {
    ticket.done();
  }
}

/** Inside the write: why the head must not be built again, or undefined. Records the head either way. */
function alreadyBuilt(deps: RunFactoryDeps, event: TriggerEvent, guard: HeadGuard): string | undefined {
  if (!event.ref || event.kind === 'manual' || event.kind === 'schedule') return undefined;
  const built = deps.heads.builtBy(event.repo, event.ref, event.sha);
  if (!built || (guard.skipIfBuiltBy === 'catch-up' && built.triggeredBy !== CATCH_UP_ACTOR)) return undefined;
  deps.heads.setHead(event.repo, event.ref, event.sha, deps.clock());
  return `${event.ref} at ${event.sha.slice(0, 12)} was already built by run #${built.number}${built.triggeredBy === CATCH_UP_ACTOR ? ' (caught up)' : ''}`;
}

/** Inside the runs' write: the head they build is now seen (a kill -9 loses both or neither). */
function recordHead(deps: RunFactoryDeps, event: TriggerEvent, guard: HeadGuard | undefined): void {
  if (!event.ref || event.kind === 'manual' || event.kind === 'schedule') return;
  deps.heads.setHead(event.repo, event.ref, event.sha, deps.clock());
  if (guard?.caughtUp) deps.heads.countCaughtUp(event.repo, 1);
}

/** The accepted delivery's record, written in the runs' transaction; its reason says what it started. */
function recordDelivery(deps: RunFactoryDeps, event: TriggerEvent, delivery: AcceptedDelivery | undefined, stored: TriggerOutcome): DeliveryRecord | undefined {
  if (!delivery) return undefined;
  return deps.deliveries.record({
    deliveryId: delivery.deliveryId, event: delivery.event, repo: event.repo, receivedAt: delivery.receivedAt,
    outcome: 'accepted', httpStatus: 202, runIds: stored.runIds, bodySha256: delivery.bodySha256, remember: true,
    reason: `${delivery.summary}: ${stored.runIds.length} run(s) queued${stored.reason ? `; ${stored.reason}` : ''}`,
  });
}
