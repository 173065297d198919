import { formatBytes, relativeTime } from '../app/format.js';
import { useAsync, useClient, useEngineEvents } from '../app/hooks.js';
import { href } from '../app/route.js';
import { DownloadLink } from '../components/DownloadLink.js';
import { Empty, ErrorBanner } from '../components/ErrorBanner.js';
import { StatusBadge } from '../components/StatusBadge.js';

/** A run's artifacts: path, size, the job that made it, expiry, and a download link. */
export function ArtifactsView({ runId }: { runId: string }) {
  const client = useClient();
  const run = useAsync(() => client.getRun(runId), [client, runId]);
  const artifacts = useAsync(() => client.listArtifacts(runId), [client, runId]);
  useEngineEvents((e) => { if (e.type === 'run' && e.run.id === runId) { run.reload(); artifacts.reload(); } });
  const jobName = (id: string): string => run.data?.jobs.find((j) => j.id === id)?.name ?? id;
  const items = artifacts.data ?? [];
  const total = items.reduce((n, a) => n + a.size, 0);
  return (
    <div className="page">
      <div className="crumbs"><a href={href({ view: 'runs' })}>Runs</a> / <a href={href({ view: 'run', runId })}>{run.data ? `${run.data.repo} #${run.data.number}` : runId}</a></div>
      <header className="page-header">
        <div>
          <h1>Artifacts {run.data && <StatusBadge status={run.data.status} />}</h1>
          <p className="subtitle">{items.length} file{items.length === 1 ? '' : 's'}, {formatBytes(total)} in total</p>
        </div>
      </header>
      <nav className="tabs">
        <a href={href({ view: 'run', runId })}>Pipeline</a>
        <a className="active" href={href({ view: 'artifacts', runId })}>Artifacts</a>
        <a href={href({ view: 'tests', runId })}>Tests</a>
        <a href={href({ view: 'timing', runId })}>Timing</a>
      </nav>
      <ErrorBanner error={artifacts.error ?? run.error} />
      <div className="card">
        {items.length > 0 && (
          <table className="artifacts-table">
            <thead><tr><th>Name</th><th style={{ width: 110 }}>Size</th><th>Job</th><th style={{ width: 120 }}>Created</th><th style={{ width: 130 }}>Expires</th><th style={{ width: 120 }} /></tr></thead>
            <tbody>
              {items.map((a) => (
                <tr key={a.id} data-artifact-id={a.id}>
                  <td><span className="file-icon">📄</span><code>{a.path}</code></td>
                  <td className="num">{formatBytes(a.size)}</td>
                  <td>{jobName(a.jobId)}</td>
                  <td className="muted">{relativeTime(a.createdAt)}</td>
                  <td className="muted">{a.expiresAt ? new Date(a.expiresAt).toLocaleDateString() : 'never'}</td>
                  <td><DownloadLink className="btn btn-sm" href={client.artifactUrl(a.id)} download={a.path.split('/').pop() ?? a.path} action="download-artifact">⤓ Download</DownloadLink></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {!artifacts.loading && items.length === 0 && !artifacts.error && (
          <Empty title="No artifacts">Jobs keep files with <code>artifacts: {'{'} paths: ['dist/**'] {'}'}</code> in .kiln.yml.</Empty>
        )}
      </div>
    </div>
  );
}
