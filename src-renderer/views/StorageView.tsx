import type { StorageMetrics } from '../../shared/model/run.js';
import { formatBytes } from '../app/format.js';
import { useAsync, useClient } from '../app/hooks.js';
import { ErrorBanner } from '../components/ErrorBanner.js';

function Meter({ label, value, detail, ratio }: { label: string; value: string; detail?: string; ratio?: number }) {
  return (
    <div className="metric card">
      <div className="metric-label">{label}</div>
      <div className="metric-value">{value}</div>
      {ratio !== undefined && <div className="meter"><div style={{ width: `${Math.min(100, Math.max(0, ratio * 100)).toFixed(1)}%` }} /></div>}
      {detail && <div className="metric-detail">{detail}</div>}
    </div>
  );
}

/** Disk used by artifacts, caches, workspaces and logs, the cache hit rate, and free space. */
export function StorageView() {
  const client = useClient();
  const { data: m, error, reload } = useAsync<StorageMetrics>(() => client.storageMetrics(), [client]);
  const used = m ? m.diskTotalBytes - m.diskFreeBytes : 0;
  return (
    <div className="page">
      <header className="page-header">
        <div><h1>Storage</h1><p className="subtitle">What Kiln keeps in its data directory. Retention settings prune it.</p></div>
        <button type="button" className="btn" onClick={reload}>↻ Refresh</button>
      </header>
      <ErrorBanner error={error} />
      {m && (
        <div className="metrics-grid" data-testid="storage-metrics">
          <Meter label="Artifacts" value={formatBytes(m.artifactBytes)} detail={`${m.artifactCount.toLocaleString()} files`} />
          <Meter label="Build cache" value={formatBytes(m.cacheBytes)} detail={`${m.cacheEntries.toLocaleString()} entries`} />
          <Meter label="Cache hit rate" value={`${(m.cacheHitRate * 100).toFixed(0)}%`} ratio={m.cacheHitRate} detail={`${m.cacheHits} hits · ${m.cacheMisses} misses`} />
          <Meter label="Workspaces" value={formatBytes(m.workspaceBytes)} />
          <Meter label="Logs" value={formatBytes(m.logBytes)} />
          <Meter label="Disk" value={`${formatBytes(m.diskFreeBytes)} free`} ratio={m.diskTotalBytes ? used / m.diskTotalBytes : undefined} detail={`of ${formatBytes(m.diskTotalBytes)}`} />
        </div>
      )}
    </div>
  );
}
