/**
 * Runs one claimed job on the executor: builds the JobRunRequest from the stored run and plan,
 * appends the executor's log lines to the log store (the store assigns seqs) and publishes them in
 * batches, one 'log' event per job per tick, stores what the job produced besides lines (groups,
 * annotations, summaries), and records the result fenced by the claim's token. A job's error is
 * written to its log by whoever met it (the executor, or infraFailure here), never again at the end.
 *
 * A job whose log cannot be written (the disk is full) is stopped at once and fails as an
 * infrastructure failure saying where its log was cut: the log store calls `logCut`.
 *
 * One attempt, one fence: everything an attempt hands back (log lines, steps, records, phase marks,
 * test reports and artifacts through its hooks, its result) is kept only while its claim still holds
 * the job (`Scheduler.holds`, the fencing token). An attempt whose engine was lost goes on streaming
 * from its dying container for a while, as does one whose lease expired; by then the job is queued
 * again or running elsewhere, and nothing of the stale attempt may reach it.
 */
import type { EngineEvent } from '../../shared/api/engine-api.js';
import type { Plan, PlannedJob } from '../../shared/model/plan.js';
import type { LogEntry, LogLine, RunSummary } from '../../shared/model/run.js';
import type { RepositoryConfig } from '../core/engine-contract.js';
import type { JobDebug, JobHooks, JobRecord, JobResult } from '../core/job-contract.js';
import type { JobRecordStore } from '../storage/job-record-store.js';
import type { Claim } from '../queue/job-queue.js';
import type { Scheduler } from '../queue/scheduler.js';
import type { JobTimingStore } from '../storage/job-timing-store.js';
import type { LogCut, LogStore } from '../storage/log-store.js';
import type { RunStore, JobRow } from '../storage/run-store.js';
import type { JobExecutor } from '../core/ports.js';
import { toRunSummary, toTriggerEvent } from '../storage/run-store.js';
import { eventContext } from '../pipeline/plan.js';
import { MAX_RUN_OUTPUT_BYTES, outputBytes, withNeedsOutputs } from '../pipeline/flow.js';
import { needsContext } from '../queue/needs-context.js';
import { formatBytes, formatLimit } from '../../shared/format.js';
import { interruptedAttemptTitle, isInterruptedAttempt } from '../../shared/model/job-records.js';

/**
 * The cache/artifact wiring point: hooks for one job (job-storage-hooks.ts by default). `current`
 * says whether the attempt still holds the job; hooks store nothing once it is false.
 */
export type HooksFor = (run: RunSummary, job: { id: string; planned: PlannedJob; attempt: number; current: () => boolean }) => JobHooks | undefined;

export interface JobRunnerDeps {
  store: RunStore;
  scheduler: Scheduler;
  logs: LogStore;
  executor: JobExecutor;
  repository(name: string): RepositoryConfig | undefined;
  hooksFor?: HooksFor;
  /** Where the executor's phase marks go (the timing view). */
  timings?: JobTimingStore;
  /** Keep-on-failure for a claimed job (debug-service.ts). */
  debugFor?: (claim: Claim) => JobDebug;
  publish(event: EngineEvent): void;
  clock: () => number;
  /** Where groups, annotations and summaries go, written through `write` (the group commit). */
  records?: { store: JobRecordStore; write(fn: () => void): Promise<void> };
  onError?(message: string, err: unknown): void;
}

/** The abort reason of a job stopped because its log was cut. */
export const LOG_CUT = 'kiln-log-cut';

export class JobRunner {
  private batch = new Map<string, LogLine[]>();
  private batchScheduled = false;
  /** Jobs of this runner now running, to stop one whose log was cut. */
  private readonly live = new Map<string, AbortController>();

  constructor(private readonly d: JobRunnerDeps) {}

  /** Appends a line to a job's log and queues it for the next 'log' event. */
  log(jobId: string, line: LogEntry): LogLine {
    const stored = this.d.logs.append(jobId, line);
    if (this.d.logs.cut(jobId)) return stored; // not stored: the log ends where the disk filled
    const list = this.batch.get(jobId);
    if (list) list.push(stored);
    else this.batch.set(jobId, [stored]);
    if (!this.batchScheduled) {
      this.batchScheduled = true;
      setImmediate(() => this.flushEvents());
    }
    return stored;
  }

  note(jobId: string, text: string): void {
    this.log(jobId, { ts: this.d.clock(), stream: 'system', step: null, text });
  }

  flushEvents(): void {
    this.batchScheduled = false;
    const batch = this.batch;
    this.batch = new Map();
    for (const [jobId, lines] of batch) this.d.publish({ type: 'log', jobId, lines });
  }

  /** Runs the claim on `engine` (the pool's choice; recorded on the job for the run view). */
  async execute(claim: Claim, signal: AbortSignal, engine?: string): Promise<JobResult> {
    const run = this.d.store.getRun(claim.runId);
    const job = this.d.store.getJob(claim.jobId);
    if (!run || !job) return infraFailure('the run was deleted while it was queued', 0);
    const plan = JSON.parse(run.plan_json) as Plan;
    const stored = plan.jobs.find((j) => j.id === job.plan_id);
    const logOffset = this.d.logs.count(job.id);
    if (!stored) return this.infraFailure(job.id, run.id, `the stored plan has no job '${job.plan_id}'`, logOffset);
    // `${{ needs.<job>.outputs.<name> }}` in env and scripts: the needs are done, their outputs stored.
    const flow = this.d.scheduler.flow;
    const planned = stored.readsNeedsOutputs && flow
      ? withNeedsOutputs(stored, {
        ...eventContext(toTriggerEvent(run)), matrix: stored.matrix, env: stored.env,
        needs: needsContext(stored.needs, this.d.store.jobsOfRun(run.id), new Map(plan.jobs.map((j) => [j.id, j])), flow),
      })
      : stored;
    const repo = this.d.repository(run.repo);
    if (!repo) return this.infraFailure(job.id, run.id, `repository '${run.repo}' is no longer configured`, logOffset);
    if (logOffset > 0) this.startAgain(claim, run.id, logOffset);
    else if (claim.attempt > 1) this.note(job.id, `[kiln] attempt ${claim.attempt}`);
    if (engine !== undefined) this.d.store.setJobEngine(job.id, engine);
    // The executor's signal: the pool's (cancel, shutdown, lost lease), or a cut log.
    const stop = new AbortController();
    const relay = (): void => stop.abort(signal.reason);
    if (signal.aborted) relay();
    else signal.addEventListener('abort', relay, { once: true });
    this.live.set(job.id, stop);
    // Asked for every line: the queue is read again only after some entry left 'active' (the version
    // moved). Sticky: a claim that lost the job never gets it back (a new claim takes a new token).
    let holds = true;
    let checkedAt = -1;
    const current = (): boolean => {
      const version = this.d.scheduler.queue.activeVersion;
      if (holds && version !== checkedAt) {
        checkedAt = version;
        holds = this.d.scheduler.holds(claim);
      }
      return holds;
    };
    try {
      const result = await this.d.executor.runJob({
        runId: run.id,
        jobId: job.id,
        job: planned,
        event: toTriggerEvent(run),
        source: { kind: 'git', url: repo.url, sha: run.sha, credentials: repo.credentials },
        secrets: repo.secrets,
        signal: stop.signal,
        logOffset: this.d.logs.count(job.id),
        onLog: (line) => (current() ? this.log(job.id, { ts: line.ts, stream: line.stream, step: line.step, text: line.text }) : undefined),
        onStep: (step) => {
          try {
            if (current() && this.d.scheduler.recordStep(claim, step)) this.d.publish({ type: 'job', runId: run.id, jobId: job.id, status: 'running' });
          } catch {
            // A step update that cannot be stored (a full database) is not the job's failure: the result carries every step.
          }
        },
        onRecord: (record) => {
          if (current()) this.record(run.id, job.id, record);
        },
        onPhase: (phase) => {
          try {
            if (current()) this.d.timings?.mark(job.id, claim.attempt, phase, this.d.clock());
          } catch {
            // The run was deleted under the job: there is no timing left to keep.
          }
        },
        hooks: this.d.hooksFor?.(toRunSummary(run), { id: job.id, planned, attempt: claim.attempt, current }),
        debug: this.d.debugFor?.(claim),
      });
      const cut = this.d.logs.cut(job.id);
      if (!cut || signal.aborted) return result;
      return { ...result, status: 'failed', infrastructure: true, error: describeCut(cut, planned) };
    } catch (err) {
      // The executor broke its contract (it logs its own errors otherwise): say it here, once.
      return this.infraFailure(job.id, run.id, `Kiln could not run the job: ${err instanceof Error ? err.message : String(err)}`, this.d.logs.count(job.id));
    } finally {
      signal.removeEventListener('abort', relay);
      if (this.live.get(job.id) === stop) this.live.delete(job.id); // not a later attempt's (after an engine loss)
    }
  }

  /**
   * The job has lines already: an earlier attempt was interrupted (Kiln stopped and handed it back,
   * or its engine or lease was lost). Its lines become a group of their own, so a viewer does not
   * file them under the new attempt's set-up, and the new attempt says why it starts.
   */
  private startAgain(claim: Claim, runId: string, logOffset: number): void {
    // A hand-back does not count an attempt: the same number marked before means Kiln restarted.
    const restart = this.d.timings?.lastAttempt(claim.jobId) === claim.attempt;
    const earlier = this.d.records?.store.groups(claim.jobId).filter(isInterruptedAttempt) ?? [];
    const start = earlier.reduce((at, g) => Math.max(at, g.end ?? 0), 0);
    if (start < logOffset) {
      this.record(runId, claim.jobId, { kind: 'group', group: { start, end: logOffset, endMarker: false, depth: 0, step: null, title: interruptedAttemptTitle(restart ? 'restart' : 'retry') } });
    }
    this.note(claim.jobId, restart
      ? `[kiln] attempt ${claim.attempt} starts again after Kiln restarted (the interrupted attempt's lines are above)`
      : `[kiln] attempt ${claim.attempt}`);
  }

  /** The log store could not write a job's log: the job stops now (and fails saying so). */
  logCut(jobId: string): void {
    this.live.get(jobId)?.abort(LOG_CUT);
  }

  private record(runId: string, jobId: string, r: JobRecord): void {
    const records = this.d.records;
    if (!records) return;
    const write = (): void => {
      if (r.kind === 'group') records.store.putGroup(jobId, r.group);
      else if (r.kind === 'annotation') records.store.addAnnotation(runId, { ...r.annotation, jobId });
      else records.store.putSummary({ ...r.summary, jobId });
    };
    records.write(write).catch((err: unknown) => this.d.onError?.(`storing a ${r.kind} of job ${jobId}`, err));
  }

  /** A job that never reached the executor: its error as a log line and an annotation, like the executor's own. */
  private infraFailure(jobId: string, runId: string, error: string, logOffset: number): JobResult {
    const line = this.log(jobId, { ts: this.d.clock(), stream: 'system', step: null, text: `[kiln] ${error}` });
    this.record(runId, jobId, { kind: 'annotation', annotation: { level: 'error', source: 'kiln', message: error, step: null, seq: line.seq } });
    return infraFailure(error, Math.max(logOffset, this.d.logs.count(jobId)));
  }

  /**
   * Records a result; a stale claim (the job was queued again, or a newer attempt owns it) is noted
   * in the log and dropped, leaving the log open for the attempt that holds the job.
   */
  finish(claim: Claim, input: JobResult): void {
    const job: JobRow | undefined = this.d.store.getJob(claim.jobId);
    if (!this.d.scheduler.holds(claim)) {
      if (job) this.note(claim.jobId, `[kiln] a result of attempt ${claim.attempt} (${input.status}) arrived after its claim was taken over; ignored`);
      this.flushEvents();
      return;
    }
    const result = withinRunOutputLimit(this.d.scheduler.flow, claim, input);
    // The result's error is in the log already, once: the executor (or infraFailure) wrote it with its annotation.
    const counts = this.d.logs.close(claim.jobId);
    this.d.scheduler.complete(claim, result, counts);
    this.flushEvents();
  }
}

/** "disk full: the log of step 'Build' was cut at 8.2 MB". */
export function describeCut(cut: LogCut, planned: PlannedJob): string {
  const name = cut.step === null ? undefined : planned.steps[cut.step]?.name;
  const what = name === undefined ? 'the job\'s log' : `the log of step '${name}'`;
  const at = formatBytes(cut.bytes);
  return cut.diskFull ? `disk full: ${what} was cut at ${at}` : `${what} could not be written (${cut.message}); it was cut at ${at}`;
}

/** GitHub's 50 MB per run: the job that would pass it fails, and hands on nothing. */
export function withinRunOutputLimit(flow: Scheduler['flow'], claim: Claim, result: JobResult): JobResult {
  if (!result.outputs || !flow) return result;
  const total = outputBytes(result.outputs) + flow.runOutputBytes(claim.runId, claim.jobId);
  if (total <= MAX_RUN_OUTPUT_BYTES) return result;
  const error = `the run's job outputs would reach ${formatBytes(total)}, more than the ${formatLimit(MAX_RUN_OUTPUT_BYTES)} a run may hold; pass large values as artifacts`;
  return { ...result, status: result.status === 'passed' ? 'failed' : result.status, error: result.error ?? error, outputs: undefined };
}

function infraFailure(error: string, logOffset: number): JobResult {
  return { status: 'failed', steps: [], error, infrastructure: true, logOffset };
}
