/**
 * The runs half of the engine API: events in (webhooks, manual triggers, re-runs, cancels) and run
 * reads out. Events become runs in run-factory.ts; this service adds the engine's own rules around
 * it (the repository must be configured, superseded jobs are aborted once the write committed, the
 * worker pool is woken) and reacts to queue changes by publishing them.
 */
import { ApiError } from '../../shared/api/engine-api.js';
import type { RunQuery, RunReporting, TriggerRequest } from '../../shared/api/engine-api.js';
import type { Plan } from '../../shared/model/plan.js';
import type { ArtifactInfo, DeliveryRecord, Page, RunDetail, RunSummary } from '../../shared/model/run.js';
import type { Status } from '../../shared/model/status.js';
import { isTerminal } from '../../shared/model/status.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import type { AcceptedDelivery, TriggerOutcome } from '../core/engine-contract.js';
import type { SchedulerChange } from '../queue/scheduler.js';
import { BadCursorError, toTriggerEvent } from '../storage/run-store.js';
import type { EngineParts } from './parts.js';
import { createRunsForEvent, effectivePriority, insertRun, type HeadGuard, type RunFactoryDeps } from './run-factory.js';
import type { RunTestReport, RunTiming } from '../../shared/model/test-report.js';
import { whyEngineWait } from '../queue/engine-wait.js';
import { whySlotWait } from '../queue/slot-wait.js';

type Parts = Pick<EngineParts,
  'db' | 'runs' | 'scheduler' | 'clock' | 'mirrorsDir' | 'pipeline' | 'checkout' | 'commits' | 'deliveries' | 'pool' | 'runner' | 'bus' |
  'lane' | 'life' | 'storage' | 'repository' | 'forge' | 'heads' | 'debug' | 'flow' | 'engines' | 'config'>;

export class RunsService {
  private readonly factory: RunFactoryDeps;

  constructor(private readonly p: Parts) {
    this.factory = {
      db: p.db, store: p.runs, scheduler: p.scheduler, clock: p.clock, mirrorsDir: p.mirrorsDir, pipeline: p.pipeline, checkout: p.checkout,
      commits: p.commits, deliveries: p.deliveries, heads: p.heads, engines: () => p.engines.labelSets(),
    };
  }

  /**
   * A push, tag or pull request event (webhook, or a caller acting for one) starts nothing when
   * catch-up has already built its commit of its ref; other duplicates are the replay guard's.
   */
  handleEvent(event: TriggerEvent, delivery?: AcceptedDelivery): Promise<TriggerOutcome & { delivery?: DeliveryRecord }> {
    return this.create(event, delivery, { skipIfBuiltBy: 'catch-up' });
  }

  /** A run of `on.schedule` (schedule-service.ts); what it says about its slot is kept with it. */
  async handleScheduled(event: TriggerEvent, fired: { slot: number; missed: number; note: string }): Promise<TriggerOutcome> {
    const outcome = await this.create(event, undefined, { skipIfBuiltBy: 'catch-up' });
    if (outcome.runIds.length) {
      await this.p.commits.write(() => { for (const id of outcome.runIds) this.p.flow.recordScheduleRun({ run_id: id, ...fired }); });
      for (const id of outcome.runIds) {
        const run = this.p.runs.getRunSummary(id);
        if (run) this.p.bus.events.emit({ type: 'run', run: this.p.flow.decorateSummaries([run], () => undefined)[0] });
      }
    }
    return outcome;
  }

  /** A moved remote head found by catch-up: built only if no run has built that commit of that ref. */
  handleCaughtUpHead(event: TriggerEvent): Promise<TriggerOutcome> {
    return this.create(event, undefined, { skipIfBuiltBy: 'any', caughtUp: true });
  }

  private async create(event: TriggerEvent, delivery: AcceptedDelivery | undefined, guard: HeadGuard): Promise<TriggerOutcome & { delivery?: DeliveryRecord }> {
    assertRunning(this.p.life);
    const repo = this.p.repository(event.repo);
    if (!repo) return { runIds: [], reason: `repository '${event.repo}' is not configured in kiln.config.yml` };
    const outcome = await createRunsForEvent(this.factory, repo, event, this.p.lane.take(), delivery, guard);
    for (const jobId of outcome.abort) this.p.pool.abort(jobId, 'cancelled');
    this.p.pool.kick();
    return {
      runIds: outcome.runIds, ...(outcome.reason ? { reason: outcome.reason } : {}), ...(outcome.delivery ? { delivery: outcome.delivery } : {}),
    };
  }

  async triggerRun(request: TriggerRequest): Promise<{ runIds: string[] }> {
    assertRunning(this.p.life);
    const repo = this.p.repository(request.repo);
    if (!repo) throw new ApiError('NOT_FOUND', `repository '${request.repo}' is not configured`);
    const branch = request.branch ?? (request.sha ? undefined : repo.defaultBranch);
    let sha = request.sha;
    if (!sha) {
      try {
        sha = await this.p.checkout.resolveCommit({ url: repo.url, credentials: repo.credentials }, branch ?? repo.defaultBranch, this.p.mirrorsDir);
      } catch (err) {
        throw new ApiError('BAD_REQUEST', `cannot resolve branch '${branch}' of ${repo.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const outcome = await this.handleEvent({
      kind: 'manual', repo: repo.name, branch, sha, ref: branch ? `refs/heads/${branch}` : undefined, triggeredBy: request.via ?? 'ui',
    });
    if (outcome.runIds.length === 0) throw new ApiError('BAD_REQUEST', outcome.reason ?? 'nothing to run');
    // Read when a job fails, so marking right after the insert is in time.
    if (request.debug) for (const id of outcome.runIds) this.p.debug.markDebugRun(id);
    return { runIds: outcome.runIds };
  }

  /** Cancels queued jobs at once and aborts running ones (the executor stops the step). */
  async cancelRun(runId: string): Promise<void> {
    assertRunning(this.p.life);
    if (!this.p.runs.getRun(runId)) throw new ApiError('NOT_FOUND', `run '${runId}' does not exist`);
    for (const jobId of this.p.scheduler.cancelRun(runId)) this.p.pool.abort(jobId, 'cancelled');
  }

  async rerun(runId: string, options: { failedOnly: boolean; debug?: boolean; via?: 'ui' | 'api' }): Promise<{ runId: string }> {
    assertRunning(this.p.life);
    const old = this.p.runs.getRun(runId);
    if (!old) throw new ApiError('NOT_FOUND', `run '${runId}' does not exist`);
    if (!isTerminal(old.status)) throw new ApiError('CONFLICT', `run #${old.number} is still ${old.status}; cancel it or wait before re-running`);
    const plan = JSON.parse(old.plan_json) as Plan;
    if (plan.jobs.length === 0) throw new ApiError('BAD_REQUEST', `run #${old.number} has no jobs to re-run${old.error ? `: ${old.error}` : ''}`);
    const keep = new Map<string, Status>();
    if (options.failedOnly) for (const j of this.p.runs.jobsOfRun(runId)) if (j.status === 'passed') keep.set(j.plan_id, 'passed');
    const event = toTriggerEvent(old);
    // A manual run was started by the dashboard or a script: its re-run is by whoever re-ran it
    // (a webhook run keeps its pusher: the commit is still theirs).
    if (event.kind === 'manual') event.triggeredBy = options.via ?? 'ui';
    const newId = insertRun(this.factory, {
      event, plan, priority: effectivePriority(this.p.repository(old.repo), event.branch, plan.priority),
      concurrencyGroup: old.concurrency_group ?? undefined, rerunOf: old.id, keep,
    });
    if (keep.size > 0) {
      // The kept jobs hand on what they handed on before: their outputs, under the new jobs' ids
      // (before any dependant can be claimed: claims happen on a later tick).
      const oldIdOf = new Map(this.p.runs.jobsOfRun(runId).map((j) => [j.plan_id, j.id]));
      for (const j of this.p.runs.jobsOfRun(newId)) {
        const oldId = keep.has(j.plan_id) ? oldIdOf.get(j.plan_id) : undefined;
        const outputs = oldId === undefined ? {} : this.p.flow.outputsOf(oldId);
        if (Object.keys(outputs).length > 0) this.p.flow.saveOutputs(j.id, newId, outputs);
      }
    }
    if (options.debug) this.p.debug.markDebugRun(newId);
    this.p.pool.kick();
    return { runId: newId };
  }

  async listRuns(query: RunQuery): Promise<Page<RunSummary>> {
    const limit = Math.min(200, Math.max(1, Math.floor(query.limit ?? 50)));
    try {
      const page = this.p.runs.listRuns({ repo: query.repo, branch: query.branch, status: query.status }, limit, query.cursor || undefined);
      return { ...page, items: this.withSlotWait(this.p.flow.decorateSummaries(page.items, (id) => this.p.runs.runDetail(id))) };
    } catch (err) {
      if (err instanceof BadCursorError) throw new ApiError('BAD_REQUEST', err.message);
      throw err;
    }
  }

  async getRun(runId: string): Promise<RunDetail> {
    const run = this.p.runs.runDetail(runId);
    if (!run) throw new ApiError('NOT_FOUND', `run '${runId}' does not exist`);
    return this.withSlotWait([this.p.flow.decorateRun(run)])[0];
  }

  /**
   * Queued runs with why they wait (`waiting`) when no engine answers ("waiting for an engine: far
   * (tcp://far:2376) is not reachable: …") or a concurrency limit says so: "waiting for a slot:
   * acme/web is at its per-repository limit (1): 1 job kept for debug". The disk guard's reason,
   * added after this, wins (no job starts on a full disk).
   */
  private withSlotWait<T extends RunSummary>(runs: T[]): T[] {
    const queued = (r: T): boolean => r.status === 'queued' && r.waitingForApproval === undefined;
    if (!runs.some(queued)) return runs;
    const holders = this.p.scheduler.queue.slotHolders(this.p.clock());
    // No engine answering explains the wait before any limit does: free slots are no use then.
    const engineWhy = whyEngineWait(this.p.engines.statuses());
    return runs.map((r) => {
      if (!queued(r)) return r;
      if (engineWhy) return { ...r, waiting: `waiting for an engine: ${engineWhy}` };
      const why = whySlotWait({ repo: r.repo, limits: this.p.config.concurrency, holders });
      return why ? { ...r, waiting: `waiting for a slot: ${why}` } : r;
    });
  }

  async listArtifacts(runId: string): Promise<ArtifactInfo[]> {
    if (!this.p.runs.getRun(runId)) throw new ApiError('NOT_FOUND', `run '${runId}' does not exist`);
    return this.p.storage.artifacts.list(runId);
  }

  async getTestReport(runId: string, search?: string): Promise<RunTestReport> {
    if (!this.p.runs.getRun(runId)) throw new ApiError('NOT_FOUND', `run '${runId}' does not exist`);
    return this.p.storage.reports.report(runId, search);
  }

  async getRunTiming(runId: string): Promise<RunTiming> {
    const timing = this.p.storage.timings.runTiming(runId);
    if (!timing) throw new ApiError('NOT_FOUND', `run '${runId}' does not exist`);
    return timing;
  }

  /** The commit statuses a run posts to its forge, and whether they arrived. */
  async getRunReporting(runId: string): Promise<RunReporting> {
    if (!this.p.runs.getRun(runId)) throw new ApiError('NOT_FOUND', `run '${runId}' does not exist`);
    return this.p.forge.runReporting(runId);
  }

  async listDeliveries(limit = 50): Promise<DeliveryRecord[]> {
    return this.p.deliveries.list(Math.min(500, Math.max(1, Math.floor(limit))));
  }

  /** Queue changes (committed): notes go to job logs, job and run changes are published, workers woken. */
  onSchedulerChanges(changes: SchedulerChange[]): void {
    const runs = new Set<string>();
    for (const c of changes) {
      if (c.kind === 'note') this.p.runner.note(c.jobId, c.text);
      else if (c.kind === 'job') {
        this.p.bus.events.emit({ type: 'job', runId: c.runId, jobId: c.jobId, status: c.status });
        if (c.status === 'queued') this.p.pool.kick();
      } else runs.add(c.runId);
    }
    for (const runId of runs) {
      const run = this.p.runs.getRunSummary(runId);
      if (run) this.p.bus.events.emit({ type: 'run', run: this.p.flow.decorateSummaries([run], (id) => this.p.runs.runDetail(id))[0] });
    }
    this.p.pool.kick();
  }
}

/** State-changing calls are refused once the engine is stopping. */
export function assertRunning(life: { stopping: boolean }): void {
  if (life.stopping) throw new ApiError('UNAVAILABLE', 'the engine is stopping');
}
