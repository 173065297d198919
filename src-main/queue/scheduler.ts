/**
 * The scheduler: what queue transitions mean for jobs and runs. Every public method is one SQLite
 * transaction that moves the queue entry, the job row and the run status together, and then reports
 * the changes (after commit) through `onChanges`, so listeners never see uncommitted state. One run
 * inside a group commit (storage/group-commit.ts) reports once the whole group has committed.
 *
 * DAG order: a job enters the queue as 'waiting' until every need is terminal; then decideJob
 * (pipeline/readiness.ts) says run → queued, or skip → skipped, which may in turn release its
 * own dependants. A run with cancel_requested starts nothing new: released dependants are cancelled.
 *
 * Approval gates: a `when: manual` job always enters as 'waiting'; once released it moves to
 * 'approval' (no worker can claim it, so it holds no slot) until decideApproval approves it
 * (→ queued) or rejects it, in person or by expiry (→ cancelled, and its dependants are skipped).
 * Finished jobs' outputs are stored with their result; conditions reading `needs.*` see them.
 */
import type { Db } from '../storage/db.js';
import type { GroupCommit } from '../storage/group-commit.js';
import type { RunStore, RunRow } from '../storage/run-store.js';
import type { Claim, ClaimFilter, JobQueue, QueueEntry } from './job-queue.js';
import type { Plan, PlannedJob } from '../../shared/model/plan.js';
import type { StepSummary } from '../../shared/model/run.js';
import type { Status } from '../../shared/model/status.js';
import type { JobResult } from '../core/job-contract.js';
import { isTerminal } from '../../shared/model/status.js';
import { decideJob } from '../pipeline/readiness.js';
import { conditionReadsNeeds } from '../pipeline/flow.js';
import type { FlowStore } from '../storage/flow-store.js';
import { needsContext } from './needs-context.js';
import { formatElapsed } from '../../shared/format.js';

export type SchedulerChange =
  | { kind: 'job'; runId: string; jobId: string; status: Status }
  | { kind: 'run'; runId: string }
  /** A line the engine should append to the job's log (system stream). */
  | { kind: 'note'; jobId: string; text: string };


export class Scheduler {
  private pending: SchedulerChange[] = [];
  private depth = 0;
  private readonly plans = new Map<string, Plan>();

  constructor(
    private readonly db: Db,
    readonly store: RunStore,
    readonly queue: JobQueue,
    private readonly clock: () => number,
    private readonly onChanges: (changes: SchedulerChange[]) => void,
    /** When given, a transaction inside one of its groups reports its changes after the group commits. */
    private readonly commits?: GroupCommit,
    /** Job outputs and approvals; without it outputs are not kept and `when: manual` jobs wait for nobody. */
    readonly flow?: FlowStore,
  ) {}

  /** Runs `fn` in one transaction and reports its changes after commit. */
  private tx<T>(fn: () => T): T {
    const outer = this.depth === 0;
    const before = this.pending.length;
    this.depth++;
    let result: T;
    try {
      // Nested in a transaction already (another scheduler call, a group commit's write): run in it,
      // a savepoint per level costs more than the rows; a throw still undoes it with the enclosing one.
      result = this.db.inTransaction ? fn() : this.db.transaction(fn).immediate();
    } catch (err) {
      this.pending.length = before;
      // Claims made in it were undone: the queue's "nothing claimable" memory may be wrong now.
      this.queue.forgetIdle();
      throw err;
    } finally {
      this.depth--;
    }
    if (outer && this.pending.length > 0) {
      const changes = this.pending;
      this.pending = [];
      if (this.commits) this.commits.afterCommit(() => this.onChanges(changes), () => this.queue.forgetIdle());
      else this.onChanges(changes);
    }
    return result;
  }

  /**
   * Runs `fn` — several of this scheduler's calls — as one transaction, e.g. recording a result and
   * claiming the next job (as BullMQ's moveToCompleted fetches the next job): one commit instead of two.
   */
  batch<T>(fn: () => T): T {
    return this.tx(fn);
  }

  private planOf(run: RunRow): Plan {
    let plan = this.plans.get(run.id);
    if (!plan) {
      plan = JSON.parse(run.plan_json) as Plan;
      if (this.plans.size > 200) this.plans.delete(this.plans.keys().next().value as string);
      this.plans.set(run.id, plan);
    }
    return plan;
  }

  /** Adds a freshly inserted run's jobs to the queue; call inside the transaction that inserted them. */
  enqueueJobs(runId: string, repo: string, rank: number, jobs: { id: string; planned: PlannedJob; status: Status }[]): void {
    const now = this.clock();
    for (const j of jobs) {
      if (isTerminal(j.status)) continue;
      const wait = j.planned.needs.length > 0 || (j.planned.manual !== undefined && this.flow !== undefined);
      this.queue.enqueue({ jobId: j.id, runId, repo, rank, state: wait ? 'waiting' : 'queued', now });
    }
  }

  /** Advances a run after an insert (skipped needs at plan time) and reports it. */
  settleNewRun(runId: string): void {
    this.tx(() => {
      this.advance(runId);
      this.pending.push({ kind: 'run', runId });
    });
  }

  /** False when a claim is known to find nothing, so callers can skip opening a transaction. */
  mayClaim(perRepository: number): boolean {
    return this.queue.mayClaim(perRepository);
  }

  /** Makes the next claim query the queue even if the last one found nothing (poll safety net). */
  forgetIdle(): void {
    this.queue.forgetIdle();
  }

  /** Claims the next runnable job and marks it (and its run) running. */
  claim(worker: string, perRepository: number, accept?: ClaimFilter): Claim | undefined {
    if (!this.queue.mayClaim(perRepository)) return undefined;
    return this.tx(() => {
      const now = this.clock();
      const claim = this.queue.claim(worker, perRepository, now, accept);
      if (!claim) return undefined;
      if (claim.attempt > 1) this.store.deleteSteps(claim.jobId); // a retried attempt reports its steps afresh
      this.store.startJob(claim.jobId, claim.attempt, now);
      this.pending.push({ kind: 'job', runId: claim.runId, jobId: claim.jobId, status: 'running' });
      if (this.store.markRunRunning(claim.runId, now)) this.pending.push({ kind: 'run', runId: claim.runId });
      return claim;
    });
  }

  /**
   * Whether `claim` still holds its job: the entry is active under the claim's fencing token. The one
   * rule for everything an attempt writes (steps, log lines, records, reports, its result): once an
   * engine loss re-queued the job, a lease expired or a newer attempt claimed it, this is false.
   */
  holds(claim: Claim): boolean {
    const live = this.queue.get(claim.jobId);
    return live !== undefined && live.state === 'active' && live.token === claim.token;
  }

  /** Records a step update for a live claim; false (and nothing written) for a stale token. */
  recordStep(claim: Claim, step: StepSummary): boolean {
    if (!this.holds(claim)) return false;
    this.store.upsertStep(claim.jobId, step);
    return true;
  }

  renew(claim: Claim): boolean {
    return this.queue.renew(claim.jobId, claim.token, this.clock());
  }

  /**
   * Writes a job's result if `claim` still holds the job. Returns false — and writes nothing — for
   * a stale fencing token: a newer attempt owns the job and its result wins.
   */
  complete(claim: Claim, result: JobResult, log?: { lines: number; bytes: number }): boolean {
    return this.tx(() => {
      if (!this.queue.finish(claim.jobId, claim.token)) return false;
      const now = this.clock();
      for (const step of result.steps) this.store.upsertStep(claim.jobId, step);
      if (result.outputs) this.flow?.saveOutputs(claim.jobId, claim.runId, result.outputs);
      this.store.setJobStatus(claim.jobId, result.status, now, result.error);
      if (log) this.store.setJobLog(claim.jobId, log.lines, log.bytes);
      this.pending.push({ kind: 'job', runId: claim.runId, jobId: claim.jobId, status: result.status });
      this.advance(claim.runId);
      return true;
    });
  }

  /** Hands a claim back untouched (engine shutdown): the job runs again on the next start. */
  release(claim: Claim): boolean {
    return this.tx(() => {
      if (!this.queue.release(claim.jobId, claim.token)) return false;
      this.store.setJobStatus(claim.jobId, 'queued', this.clock());
      this.pending.push({ kind: 'job', runId: claim.runId, jobId: claim.jobId, status: 'queued' });
      return true;
    });
  }

  /**
   * Cancels a run: queued and waiting jobs are cancelled now; returns the ids of its active jobs,
   * which the caller must abort (they turn cancelled when their executor returns).
   */
  cancelRun(runId: string): string[] {
    return this.tx(() => {
      const run = this.store.getRun(runId);
      if (!run) return [];
      this.store.requestCancel(runId);
      const now = this.clock();
      const active: string[] = [];
      for (const e of this.queue.entriesOfRun(runId)) {
        if (e.state === 'active') active.push(e.job_id);
        else if (this.queue.drop(e.job_id)) {
          this.store.setJobStatus(e.job_id, 'cancelled', now, 'cancelled before it started');
          this.pending.push({ kind: 'job', runId, jobId: e.job_id, status: 'cancelled' });
        }
      }
      if (this.store.refreshRunStatus(runId, now)) this.pending.push({ kind: 'run', runId });
      else this.pending.push({ kind: 'run', runId });
      return active;
    });
  }

  /** Expires claims whose lease ran out; returns how many. */
  expireLeases(): number {
    const dead = this.queue.expired(this.clock());
    for (const e of dead) this.expire(e, 'its lease expired');
    return dead.length;
  }

  /** The claim's engine went away: re-queued (fenced by its token) within the attempt limit, or failed. */
  abandon(claim: Claim, why: string): void {
    const live = this.queue.get(claim.jobId);
    if (live && live.token === claim.token) this.expire(live, why);
  }

  /** At start-up: claims held by any other (dead) engine instance are expired at once. */
  recoverForeignClaims(): number {
    const dead = this.queue.foreignClaims();
    for (const e of dead) this.expire(e, 'the Kiln process running it stopped');
    return dead.length;
  }

  /** Re-derives every unfinished run (start-up), so no run stays 'running' without a live job. */
  reconcileRuns(): void {
    for (const runId of this.store.unfinishedRunIds()) {
      this.tx(() => {
        this.advance(runId);
      });
    }
  }

  /** Re-queues a dead claim, or fails it once it has lost `max_attempts` workers. */
  private expire(e: QueueEntry, why: string): void {
    this.tx(() => {
      const live = this.queue.get(e.job_id);
      if (!live || live.state !== 'active' || live.token !== e.token) return; // already moved on
      const run = this.store.getRun(e.run_id);
      const now = this.clock();
      let status: Status;
      if (run?.cancel_requested) {
        this.queue.finish(e.job_id, e.token);
        status = 'cancelled';
        this.store.setJobStatus(e.job_id, status, now, 'cancelled');
      } else if (live.attempts >= live.max_attempts) {
        this.queue.finish(e.job_id, e.token);
        status = 'failed';
        const reason = `lost its worker ${live.attempts} time${live.attempts === 1 ? "" : "s"}; giving up`;
        this.store.setJobStatus(e.job_id, status, now, reason);
        this.pending.push({ kind: 'note', jobId: e.job_id, text: `[kiln] attempt ${live.attempts}: ${why}. The job ${reason}.` });
      } else {
        this.queue.requeue(e.job_id, e.token);
        status = 'queued';
        this.store.setJobStatus(e.job_id, status, now);
        this.pending.push({ kind: 'note', jobId: e.job_id, text: `[kiln] attempt ${live.attempts}: ${why}; the job is queued again (attempt ${live.attempts + 1} of ${live.max_attempts}).` });
      }
      this.pending.push({ kind: 'job', runId: e.run_id, jobId: e.job_id, status });
      this.advance(e.run_id);
    });
  }

  /**
   * Decides a job waiting for approval: approved → queued; rejected or expired → cancelled (its
   * dependants are then skipped). False when the job is not waiting for approval (any more).
   */
  decideApproval(jobId: string, decision: 'approved' | 'rejected' | 'expired', by: string): boolean {
    return this.tx(() => {
      const entry = this.queue.get(jobId);
      if (!this.flow || entry?.state !== 'approval') return false;
      const now = this.clock();
      const approval = this.flow.approval(jobId);
      if (!this.flow.decide(jobId, decision, by, now)) return false;
      const runId = entry.run_id;
      if (decision === 'approved') {
        this.queue.makeReady(jobId, now, 'approval');
        this.pending.push({ kind: 'note', jobId, text: `[kiln] approved by ${by}` });
        this.pending.push({ kind: 'job', runId, jobId, status: 'queued' });
        return true;
      }
      this.queue.drop(jobId);
      const waited = approval ? formatElapsed(approval.expires_at - approval.requested_at) : 'its time';
      const reason = decision === 'rejected' ? `rejected by ${by}` : `nobody approved it within ${waited}; the approval expired`;
      this.store.setJobStatus(jobId, 'cancelled', now, reason);
      this.pending.push({ kind: 'note', jobId, text: `[kiln] ${reason}` });
      this.pending.push({ kind: 'job', runId, jobId, status: 'cancelled' });
      this.advance(runId);
      return true;
    });
  }

  /** Releases waiting jobs whose needs are all terminal, then refreshes the run's status. */
  private advance(runId: string): void {
    const now = this.clock();
    // Most completions release nothing: skip the DAG walk unless the run has waiting jobs.
    if (!this.queue.hasWaiting(runId)) {
      if (this.store.refreshRunStatus(runId, now)) this.pending.push({ kind: 'run', runId });
      return;
    }
    const run = this.store.getRun(runId);
    if (!run) return;
    const plan = this.planOf(run);
    const planned = new Map(plan.jobs.map((j) => [j.id, j]));
    let progressed = true;
    while (progressed) {
      progressed = false;
      const jobs = this.store.jobsOfRun(runId);
      const statusOf = new Map(jobs.map((j) => [j.plan_id, j.status]));
      const waiting = new Set(this.queue.entriesOfRun(runId).filter((e) => e.state === 'waiting').map((e) => e.job_id));
      for (const job of jobs) {
        if (!waiting.has(job.id)) continue;
        const needs = (JSON.parse(job.needs_json) as string[]).map((n) => statusOf.get(n) ?? 'skipped');
        if (!needs.every((s) => isTerminal(s))) continue;
        const p = planned.get(job.plan_id);
        const decision = run.cancel_requested ? 'cancel' : p ? decideJob(p, needs, {
          event: run.event, branch: run.branch ?? undefined, tag: run.tag ?? undefined, sha: run.sha, repo: run.repo,
          ref: run.ref ?? undefined, matrix: p.matrix, env: p.env,
          ...(this.flow && conditionReadsNeeds(p.if) ? { needs: needsContext(JSON.parse(job.needs_json) as string[], jobs, planned, this.flow) } : {}),
        }) : 'skip';
        if (decision === 'run' && p?.manual && this.flow) {
          this.queue.hold(job.id);
          this.flow.requestApproval(job.id, runId, now, now + p.manual.timeoutMs);
          this.pending.push({ kind: 'job', runId, jobId: job.id, status: 'queued' });
          this.pending.push({ kind: 'run', runId }); // its status may stay, but it now waits: say so
          continue;
        }
        if (decision === 'run') {
          this.queue.makeReady(job.id, now);
          continue;
        }
        this.queue.drop(job.id);
        const status: Status = decision === 'cancel' ? 'cancelled' : 'skipped';
        this.store.setJobStatus(job.id, status, now, decision === 'cancel' ? 'cancelled before it started' : 'skipped: a job it needs did not pass');
        this.pending.push({ kind: 'job', runId, jobId: job.id, status });
        progressed = true;
      }
    }
    if (this.store.refreshRunStatus(runId, now)) this.pending.push({ kind: 'run', runId });
  }
}
