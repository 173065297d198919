import { useEffect } from 'react';
import type { RunReporting } from '../../../shared/api/engine-api.js';
import { useAsync, useClient, useEngineEvents, useThrottled } from '../../app/hooks.js';

const DELIVERY_PILL = { posted: 'pill-accepted', queued: 'pill-ignored', failed: 'pill-rejected' } as const;

/** What the run reported to its forge: each context's newest status and whether it arrived. */
export function RunReportingCard({ runId }: { runId: string }) {
  const client = useClient();
  const state = useAsync<RunReporting | undefined>(async () => (client.getRunReporting ? client.getRunReporting(runId) : undefined), [client, runId]);
  const refresh = useThrottled(() => { state.reload(); }, 1000);
  useEngineEvents((e) => { if ((e.type === 'run' && e.run.id === runId) || (e.type === 'job' && e.runId === runId)) refresh(); });
  const r = state.data;
  // Statuses are decided and posted after the run's own events: look again while one is on its way
  // or still pending (the run's next status follows).
  const waiting = r?.statuses.some((s) => s.delivery === 'queued' || s.state === 'pending') ?? false;
  useEffect(() => {
    if (!waiting) return undefined;
    const t = setInterval(refresh, 1500);
    return () => clearInterval(t);
  }, [waiting, refresh]);
  if (!r || (!r.enabled && r.statuses.length === 0)) return null;
  return (
    <div className="card section run-reporting" data-testid="run-reporting">
      <div className="kv">
        <span>Commit statuses</span><span data-testid="run-reporting-summary">{r.summary}</span>
      </div>
      {r.statuses.length > 0 && (
        <table>
          <tbody>
            {r.statuses.map((s) => (
              <tr key={s.context} data-context={s.context} data-state={s.state} data-delivery={s.delivery}>
                <td><code>{s.context}</code></td>
                <td><b>{s.state}</b> {s.description}</td>
                <td><span className={`pill ${DELIVERY_PILL[s.delivery]}`}>{s.delivery}</span>{s.reason && s.delivery !== 'posted' && <div className="small text-danger">{s.reason}</div>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
