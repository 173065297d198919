/**
 * Runs one claimed job on the executor: builds the JobRunRequest from the stored run and plan,
 * appends the executor's log lines to the log store (the store assigns seqs) and publishes them in
 * batches, one 'log' event per job per tick, and records the result fenced by the claim's token.
 */
import type { EngineEvent } from '../../shared/api/engine-api.js';
import type { Plan, PlannedJob } from '../../shared/model/plan.js';
import type { LogEntry, LogLine, RunSummary } from '../../shared/model/run.js';
import type { RepositoryConfig } from '../core/engine-contract.js';
import type { JobHooks, JobResult } from '../core/job-contract.js';
import type { Claim } from '../queue/job-queue.js';
import type { Scheduler } from '../queue/scheduler.js';
import type { LogStore } from '../storage/log-store.js';
import type { RunStore, JobRow } from '../storage/run-store.js';
import type { JobExecutor } from '../core/ports.js';
import { toRunSummary, toTriggerEvent } from '../storage/run-store.js';

/** The cache/artifact wiring point: hooks for one job (job-storage-hooks.ts by default). */
export type HooksFor = (run: RunSummary, job: { id: string; planned: PlannedJob; attempt: number }) => JobHooks | undefined;

export interface JobRunnerDeps {
  store: RunStore;
  scheduler: Scheduler;
  logs: LogStore;
  executor: JobExecutor;
  repository(name: string): RepositoryConfig | undefined;
  hooksFor?: HooksFor;
  publish(event: EngineEvent): void;
  clock: () => number;
}

export class JobRunner {
  private batch = new Map<string, LogLine[]>();
  private batchScheduled = false;

  constructor(private readonly d: JobRunnerDeps) {}

  /** Appends a line to a job's log and queues it for the next 'log' event. */
  log(jobId: string, line: LogEntry): LogLine {
    const stored = this.d.logs.append(jobId, line);
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
    const planned = (JSON.parse(run.plan_json) as Plan).jobs.find((j) => j.id === job.plan_id);
    const logOffset = this.d.logs.count(job.id);
    if (!planned) return infraFailure(`the stored plan has no job '${job.plan_id}'`, logOffset);
    const repo = this.d.repository(run.repo);
    if (!repo) return infraFailure(`repository '${run.repo}' is no longer configured`, logOffset);
    if (claim.attempt > 1) this.note(job.id, `[kiln] attempt ${claim.attempt}`);
    if (engine !== undefined) this.d.store.setJobEngine(job.id, engine);
    return this.d.executor.runJob({
      runId: run.id,
      jobId: job.id,
      job: planned,
      event: toTriggerEvent(run),
      source: { kind: 'git', url: repo.url, sha: run.sha, credentials: repo.credentials },
      secrets: repo.secrets,
      signal,
      logOffset: this.d.logs.count(job.id),
      onLog: (line) => this.log(job.id, { ts: line.ts, stream: line.stream, step: line.step, text: line.text }),
      onStep: (step) => {
        if (this.d.scheduler.recordStep(claim, step)) this.d.publish({ type: 'job', runId: run.id, jobId: job.id, status: 'running' });
      },
      hooks: this.d.hooksFor?.(toRunSummary(run), { id: job.id, planned, attempt: claim.attempt }),
    });
  }

  /** Records a result; a stale claim (a newer attempt owns the job) is noted in the log and dropped. */
  finish(claim: Claim, result: JobResult): void {
    const job: JobRow | undefined = this.d.store.getJob(claim.jobId);
    if (result.error && result.status !== 'passed') this.note(claim.jobId, `[kiln] ${result.error}`);
    const counts = this.d.logs.close(claim.jobId);
    const accepted = this.d.scheduler.complete(claim, result, counts);
    if (!accepted && job) {
      this.note(claim.jobId, `[kiln] a result of attempt ${claim.attempt} (${result.status}) arrived after its claim was taken over; ignored`);
      this.d.logs.close(claim.jobId);
    }
    this.flushEvents();
  }
}

function infraFailure(error: string, logOffset: number): JobResult {
  return { status: 'failed', steps: [], error, infrastructure: true, logOffset };
}
