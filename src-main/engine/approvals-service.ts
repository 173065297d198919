/**
 * Approval gates as the API sees them: approve and reject a job waiting for approval, and reject
 * on their own the ones nobody decided in time. The decision itself is the scheduler's (one
 * transaction moving the queue entry, the job and the run); this service checks the request,
 * names who decided, and runs the expiry check.
 *
 * Expiry runs at start (a gate that expired while Kiln was not running is rejected at once) and
 * then every `checkEveryMs`; a gate thus ends at most that much after its expiresAt.
 */
import { ApiError } from '../../shared/api/engine-api.js';
import type { EngineParts } from './parts.js';
import { assertRunning } from './runs-service.js';

type Parts = Pick<EngineParts, 'scheduler' | 'flow' | 'runs' | 'clock' | 'onError' | 'life'>;

export const APPROVAL_CHECK_MS = 15_000;

/** Who decided, when the caller does not say: the dashboard and the API are local to this workstation. */
const DEFAULT_DECIDER = 'a user of this workstation';

export class ApprovalsService {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly p: Parts) {}

  start(checkEveryMs = APPROVAL_CHECK_MS): void {
    this.expire();
    this.timer = setInterval(() => this.expire(), checkEveryMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async approve(jobId: string, by?: string): Promise<void> {
    this.decide(jobId, 'approved', by);
  }

  async reject(jobId: string, by?: string): Promise<void> {
    this.decide(jobId, 'rejected', by);
  }

  /** Rejects every waiting gate whose time ran out; returns how many. */
  expire(): number {
    if (this.p.life.stopping) return 0;
    let n = 0;
    try {
      for (const a of this.p.flow.dueApprovals(this.p.clock())) {
        if (this.p.scheduler.decideApproval(a.job_id, 'expired', 'Kiln (the approval expired)')) n++;
      }
    } catch (err) {
      this.p.onError('expiring approvals failed', err);
    }
    return n;
  }

  private decide(jobId: string, decision: 'approved' | 'rejected', by: string | undefined): void {
    assertRunning(this.p.life);
    const job = this.p.runs.getJob(jobId);
    if (!job) throw new ApiError('NOT_FOUND', `job '${jobId}' does not exist`);
    if (this.p.scheduler.decideApproval(jobId, decision, by ?? DEFAULT_DECIDER)) return;
    const approval = this.p.flow.approval(jobId);
    const why = !approval
      ? `job '${job.name}' does not wait for approval (only a job with when: manual does, once its needs are done)`
      : approval.state === 'waiting'
        ? `job '${job.name}' is ${job.status}`
        : `job '${job.name}' was already ${approval.state}${approval.decided_by ? ` (by ${approval.decided_by})` : ''}`;
    throw new ApiError('CONFLICT', why);
  }
}
