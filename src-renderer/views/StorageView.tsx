import { useState } from 'react';
import type { FreeSpaceReport, FreeSpaceRequest, Health } from '../../shared/api/engine-api.js';
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

function describeReport(r: FreeSpaceReport): string {
  return `Freed ${formatBytes(r.bytesFreed)}: ${r.artifactsDeleted} artifacts, ${r.cachesDeleted} caches, ${r.logsDeleted} logs deleted.`;
}

/**
 * The buttons that free space (they work on a full disk too): every artifact, every cache entry
 * not in use, or the logs of runs finished some days ago (the runs stay listed).
 */
function FreeSpace({ onFreed }: { onFreed: () => void }) {
  const client = useClient();
  const [days, setDays] = useState(30);
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<string | undefined>();
  const [error, setError] = useState<Error | undefined>();
  const free = async (request: FreeSpaceRequest): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      setReport(describeReport(await client.freeSpace(request)));
      onFreed();
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card free-space-card" data-testid="free-space">
      <h2>Free space</h2>
      <ErrorBanner error={error} />
      <div className="free-space">
        <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void free({ artifacts: true })}>Delete all artifacts</button>
        <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void free({ caches: true })}>Delete all caches</button>
        <label>
          Logs of runs finished more than <input type="number" min={0} value={days} onChange={(e) => setDays(Math.max(0, Number(e.target.value) || 0))} name="log-days" /> days ago
        </label>
        <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void free({ logsOlderThanDays: days })}>Delete those logs</button>
      </div>
      {report && <p className="muted" data-testid="free-space-report">{report}</p>}
    </section>
  );
}

/** Disk used by artifacts, caches, workspaces and logs, the cache hit rate, free space, and what frees it. */
export function StorageView() {
  const client = useClient();
  const { data: m, error, reload } = useAsync<StorageMetrics>(() => client.storageMetrics(), [client]);
  const health = useAsync<Health>(() => client.health(), [client]);
  const used = m ? m.diskTotalBytes - m.diskFreeBytes : 0;
  const disk = health.data?.disk;
  const refresh = (): void => {
    reload();
    health.reload();
  };
  return (
    <div className="page">
      <header className="page-header">
        <div><h1>Storage</h1><p className="subtitle">What Kiln keeps in its data directory. Retention settings prune it.</p></div>
        <button type="button" className="btn" onClick={refresh}>↻ Refresh</button>
      </header>
      <ErrorBanner error={error} />
      {disk && (
        <p className={disk.ok ? 'muted' : 'notice'} data-testid="disk-state">
          {disk.ok
            ? `${formatBytes(disk.freeBytes)} free; new jobs wait below ${formatBytes(disk.neededBytes)}.`
            : `${disk.message ?? 'The disk is full'}. Delete artifacts, caches or old logs below; queued runs start by themselves once there is room.`}
        </p>
      )}
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
      <FreeSpace onFreed={refresh} />
    </div>
  );
}
