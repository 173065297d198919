import { useEffect } from 'react';
import type { EngineInfo, Health } from '../../shared/api/engine-api.js';
import { useAsync, useClient, useEngineEvents, useThrottled } from '../app/hooks.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { href } from '../app/route.js';

const STATE_PILL: Record<EngineInfo['state'], string> = { up: 'pill-accepted', down: 'pill-rejected', starting: 'pill-tunnel-connecting', reaping: 'pill-tunnel-connecting' };
const STATE_TEXT: Record<EngineInfo['state'], string> = { up: 'up', down: 'down', starting: 'starting', reaping: 'cleaning up' };

function ago(ms: number | undefined): string {
  if (ms === undefined) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

/** "removing — 2 jobs finishing": an engine removed (or an old connection replaced) in Settings. */
function retiringText(e: EngineInfo): string {
  const n = e.running.length;
  return `removing — ${n} ${n === 1 ? 'job' : 'jobs'} finishing`;
}

/** The jobs on an engine, each a link to its log. */
function JobLinks({ engine }: { engine: EngineInfo }) {
  if (!engine.jobs?.length) return null;
  return (
    <ul className="engine-jobs small" data-testid="engine-jobs">
      {engine.jobs.map((j) => <li key={j.id}><a href={href({ view: 'job', runId: j.runId, jobId: j.id })}>{j.name}</a></li>)}
    </ul>
  );
}

/**
 * The Docker engines of the worker pool: state, version, labels, running jobs against the limit,
 * and the last error. An engine removed or replaced in Settings stays, marked as removing, with
 * the jobs still finishing on it, until the last of them ends. Refreshed every 2 s (an engine is
 * marked down within seconds) and on job changes.
 */
export function EnginesView() {
  const client = useClient();
  const { data, error, reload } = useAsync<Health>(() => client.health(), [client]);
  const refresh = useThrottled(reload, 500);
  useEngineEvents((e) => { if (e.type === 'job') refresh(); });
  useEffect(() => {
    const timer = setInterval(reload, 2000);
    return () => clearInterval(timer);
  }, [reload]);
  const engines = data?.engines ?? [];
  return (
    <div className="page">
      <header className="page-header">
        <div><h1>Engines</h1><p className="subtitle">The Docker engines jobs run on. Add more under <a href={href({ view: 'settings' })}>Settings</a> (or <code>engines:</code> in kiln.config.yml).</p></div>
        <button type="button" className="btn" onClick={reload}>↻ Refresh</button>
      </header>
      <ErrorBanner error={error} />
      <div className="card">
        <table data-testid="engines-table">
          <thead><tr><th>Engine</th><th>State</th><th>Address</th><th>Version</th><th>Labels</th><th>Jobs</th><th>Last answer</th></tr></thead>
          <tbody>
            {engines.map((e) => (
              <tr key={`${e.name}/${e.retiring ?? ''}`} data-engine={e.name} data-state={e.state} data-retiring={e.retiring}>
                <td><strong>{e.name}</strong><div className="muted small">{e.retiring === 'replaced' ? 'old connection, replaced in Settings' : e.retiring === 'removed' ? 'removed in Settings' : `from ${e.source}`}</div></td>
                <td>
                  {e.retiring
                    ? <span className="pill pill-tunnel-connecting" data-testid="retiring">{retiringText(e)}</span>
                    : <span className={`pill ${STATE_PILL[e.state]}`}>{STATE_TEXT[e.state]}</span>}
                  {e.state !== 'up' && e.lastError && <div className="text-danger small">{e.lastError}</div>}
                </td>
                <td><code>{e.address}</code></td>
                <td className="muted">{e.version ?? '—'}</td>
                <td>{e.labels.length ? e.labels.map((l) => <code key={l} className="label-chip">{l}</code>) : <span className="muted">—</span>}</td>
                <td className="num">{e.running.length} / {e.limit}<JobLinks engine={e} /></td>
                <td className="muted">{ago(e.lastSeenAt)}</td>
              </tr>
            ))}
            {data && engines.length === 0 && <tr><td colSpan={7} className="empty">This engine reports no Docker engines.</td></tr>}
          </tbody>
        </table>
      </div>
    </div>
  );
}
