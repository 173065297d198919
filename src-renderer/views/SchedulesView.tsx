import { formatDuration } from '../app/format.js';
import { useAsync, useClient, useEngineEvents, useTicker } from '../app/hooks.js';
import { Empty, ErrorBanner } from '../components/ErrorBanner.js';

/** A time as the schedule reads it, in its zone. */
function inZone(ts: number, zone: string): string {
  try {
    return new Intl.DateTimeFormat(undefined, { timeZone: zone, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }).format(ts);
  } catch {
    return new Date(ts).toLocaleString();
  }
}

/** Every repository's `on.schedule` (from its default branch), with the next time each runs. */
export function SchedulesView() {
  const client = useClient();
  const { data, error, loading, reload } = useAsync(() => client.listSchedules(), [client]);
  useEngineEvents((e) => { if (e.type === 'run' && e.run.event === 'schedule') reload(); });
  const now = useTicker(true);
  const items = data ?? [];
  return (
    <div className="page">
      <header className="page-header">
        <div><h1>Schedules</h1><p className="subtitle">The <code>on.schedule</code> times of each repository's pipeline on its default branch.</p></div>
      </header>
      <ErrorBanner error={error} />
      <div className="card">
        {items.length > 0 && (
          <table>
            <thead><tr><th>Repository</th><th>Pipeline</th><th>Cron</th><th>Time zone</th><th>Branches</th><th>Next run</th><th>Last time run</th></tr></thead>
            <tbody>
              {items.map((s) => (
                <tr key={`${s.repo} ${s.cron} ${s.timezone} ${s.branches.join(',')}`} data-repo={s.repo} data-cron={s.cron}>
                  <td>{s.repo}</td>
                  <td>{s.pipeline}</td>
                  <td><code>{s.cron}</code></td>
                  <td data-timezone={s.timezone}>{s.timezone}{s.localTimezone && <span className="muted small"> (this workstation's local time)</span>}</td>
                  <td>{s.branches.map((b) => <span key={b} className="ref">{b}</span>)}</td>
                  <td data-next={s.nextAt}>{s.nextAt !== undefined ? <>{inZone(s.nextAt, s.timezone)} <span className="muted small">(in {formatDuration(Math.max(0, s.nextAt - now))})</span></> : '—'}</td>
                  <td className="muted">{s.lastSlot !== undefined ? inZone(s.lastSlot, s.timezone) : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {!loading && items.length === 0 && !error && <Empty title="No schedules">Add <code>on: {'{'} schedule: [{'{'} cron: '30 3 * * 1-5' {'}'}] {'}'}</code> to a pipeline on its default branch.</Empty>}
      </div>
    </div>
  );
}
