import { useState } from 'react';
import type { RunDetail } from '../../shared/model/run.js';
import { formatDuration } from '../app/format.js';
import { useClient } from '../app/hooks.js';

/**
 * The jobs of a run that wait for someone to approve them (`when: manual`): one row each with
 * Approve and Reject, and when the gate rejects itself. Nothing when no job waits.
 */
export function ApprovalCard({ run, now, onError }: { run: RunDetail; now: number; onError: (e: Error) => void }) {
  const client = useClient();
  const [busy, setBusy] = useState<string | undefined>();
  const waiting = run.jobs.filter((j) => j.approval?.state === 'waiting' && j.status === 'queued');
  if (waiting.length === 0) return null;
  const act = async (jobId: string, fn: () => Promise<void>): Promise<void> => {
    setBusy(jobId);
    try { await fn(); } catch (e) { onError(e as Error); } finally { setBusy(undefined); }
  };
  return (
    <div className="card approval-card" data-testid="approvals">
      <h2>Waiting for approval</h2>
      <p className="muted small">
        {run.waitingForApproval ? 'Nothing else can run until these jobs are approved. ' : ''}
        Approving queues the job; rejecting cancels it and skips the jobs that need it.
      </p>
      <table>
        <tbody>
          {waiting.map((j) => (
            <tr key={j.id} data-job-id={j.id} data-approval="waiting">
              <td><b>{j.name}</b></td>
              <td className="muted" title={new Date(j.approval!.expiresAt).toLocaleString()}>
                {j.approval!.expiresAt > now ? `rejected on its own in ${formatDuration(j.approval!.expiresAt - now)} unless decided` : 'expiring now'}
              </td>
              <td className="actions">
                <button type="button" className="btn btn-primary btn-sm" data-action="approve" disabled={busy === j.id} onClick={() => act(j.id, () => client.approveJob(j.id))}>Approve</button>
                <button type="button" className="btn btn-danger btn-sm" data-action="reject" disabled={busy === j.id} onClick={() => act(j.id, () => client.rejectJob(j.id))}>Reject</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
