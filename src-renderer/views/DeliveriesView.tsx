import { relativeTime } from '../app/format.js';
import { useAsync, useClient, useEngineEvents } from '../app/hooks.js';
import { href } from '../app/route.js';
import { Empty, ErrorBanner } from '../components/ErrorBanner.js';

/** Webhook deliveries, newest first, with why each was accepted, ignored or rejected. */
export function DeliveriesView() {
  const client = useClient();
  const { data, error, loading, reload } = useAsync(() => client.listDeliveries(200), [client]);
  useEngineEvents((e) => { if (e.type === 'delivery') reload(); });
  const items = data ?? [];
  return (
    <div className="page">
      <header className="page-header"><div><h1>Webhook deliveries</h1><p className="subtitle">What arrived, and what Kiln did with it.</p></div></header>
      <ErrorBanner error={error} />
      <div className="card">
        {items.length > 0 && (
          <table>
            <thead><tr><th style={{ width: 110 }}>Outcome</th><th style={{ width: 70 }}>HTTP</th><th style={{ width: 130 }}>Event</th><th>Repository</th><th>Reason</th><th style={{ width: 110 }}>Runs</th><th style={{ width: 110 }}>Received</th></tr></thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.id} data-outcome={d.outcome}>
                  <td><span className={`pill pill-${d.outcome}`}>{d.outcome}</span></td>
                  <td className="num">{d.httpStatus}</td>
                  <td><code>{d.event}</code></td>
                  <td>{d.repo ?? <span className="muted">—</span>}</td>
                  <td>{d.reason}<div className="muted small mono">{d.deliveryId}</div></td>
                  <td>{d.runIds.map((id) => <a key={id} href={href({ view: 'run', runId: id })} className="run-link">{id.slice(0, 8)}</a>)}</td>
                  <td className="muted" title={new Date(d.receivedAt).toLocaleString()}>{relativeTime(d.receivedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {!loading && items.length === 0 && !error && <Empty title="No deliveries yet">Point a repository's webhook at the smee tunnel (see Settings).</Empty>}
      </div>
    </div>
  );
}
