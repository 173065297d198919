import { useCallback, useEffect, useState } from 'react';
import type { RunQuery } from '../../shared/api/engine-api.js';
import type { RunSummary } from '../../shared/model/run.js';
import { isTerminal, STATUSES, type Status } from '../../shared/model/status.js';
import { Empty, ErrorBanner } from '../components/ErrorBanner.js';
import { RunActions } from '../components/RunActions.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { elapsed, formatDuration, relativeTime, shortSha } from '../app/format.js';
import { CATCH_UP_ACTOR } from '../../shared/model/trigger-event.js';
import { useAsync, useClient, useEngineEvents, useOnReconnect, useTicker } from '../app/hooks.js';
import { href } from '../app/route.js';
import { DebugBadge, useKeptJobs } from './debug/kept-jobs.js';

const PAGE = 30;
const EVENT_LABEL = { push: 'push', tag: 'tag', pull_request: 'pull request', manual: 'manual', schedule: 'schedule' } as const;

function matches(run: RunSummary, f: RunQuery): boolean {
  return (!f.repo || run.repo === f.repo) && (!f.branch || run.branch === f.branch) && (!f.status || run.status === f.status);
}

export function RunsList() {
  const client = useClient();
  const [filters, setFilters] = useState<RunQuery>({});
  const [branchInput, setBranchInput] = useState('');
  const [runs, setRuns] = useState<RunSummary[]>([]);
  const [cursor, setCursor] = useState<string | undefined>();
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<Error | undefined>();
  const repos = useAsync(() => client.listRepositories(), [client]);

  const load = useCallback(async (after?: string) => {
    setLoading(true);
    try {
      const page = await client.listRuns({ ...filters, limit: PAGE, cursor: after });
      setRuns((prev) => (after ? [...prev, ...page.items.filter((r) => !prev.some((p) => p.id === r.id))] : page.items));
      setCursor(page.nextCursor);
      setError(undefined);
    } catch (e) {
      setError(e as Error);
    } finally {
      setLoading(false);
    }
  }, [client, filters]);

  useEffect(() => { void load(); }, [load]);
  // Back from a dropped stream (a server restart): runs may have moved without an event heard.
  useOnReconnect(() => { void load(); });

  // Live: update a run in place, or put a new matching run on top.
  useEngineEvents((event) => {
    if (event.type !== 'run') return;
    setRuns((prev) => {
      const i = prev.findIndex((r) => r.id === event.run.id);
      if (i >= 0) {
        if (!matches(event.run, filters)) return prev.filter((r) => r.id !== event.run.id);
        const next = prev.slice();
        next[i] = event.run;
        return next;
      }
      return matches(event.run, filters) ? [event.run, ...prev] : prev;
    });
  });

  const active = runs.some((r) => !isTerminal(r.status));
  const kept = useKeptJobs({ active });
  const now = useTicker(active || kept.runs.size > 0);

  return (
    <div className="page">
      <header className="page-header">
        <div>
          <h1>Runs</h1>
          <p className="subtitle">Every pipeline run, newest first. Updates live.</p>
        </div>
        <a className="btn btn-primary" href={href({ view: 'trigger' })}>▶ Run pipeline</a>
      </header>

      <form className="filters" onSubmit={(e) => { e.preventDefault(); setFilters((f) => ({ ...f, branch: branchInput.trim() || undefined })); }}>
        <label>
          Repository
          <select value={filters.repo ?? ''} onChange={(e) => setFilters((f) => ({ ...f, repo: e.target.value || undefined }))} name="repo">
            <option value="">All repositories</option>
            {repos.data?.map((r) => <option key={r.name} value={r.name}>{r.name}</option>)}
          </select>
        </label>
        <label>
          Branch
          <input value={branchInput} placeholder="any branch" name="branch" onChange={(e) => setBranchInput(e.target.value)}
            onBlur={() => setFilters((f) => ({ ...f, branch: branchInput.trim() || undefined }))} />
        </label>
        <label>
          Status
          <select value={filters.status ?? ''} onChange={(e) => setFilters((f) => ({ ...f, status: (e.target.value || undefined) as Status | undefined }))} name="status">
            <option value="">Any status</option>
            {STATUSES.map((s) => <option key={s} value={s}>{s.replace('_', ' ')}</option>)}
          </select>
        </label>
        {(filters.repo || filters.branch || filters.status) && (
          <button type="button" className="btn btn-ghost" onClick={() => { setFilters({}); setBranchInput(''); }}>Clear filters</button>
        )}
      </form>

      <ErrorBanner error={error} />

      <div className="card">
        <table className="runs-table">
          <thead>
            <tr>
              <th style={{ width: 116 }}>Status</th>
              <th>Run</th>
              <th style={{ width: 150 }}>Branch</th>
              <th>Commit</th>
              <th style={{ width: 92 }}>Duration</th>
              <th style={{ width: 100 }}>Started</th>
              <th style={{ width: 200 }} />
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => (
              <tr key={run.id} data-run-id={run.id} data-status={run.status}>
                <td>
                  <StatusBadge status={run.status} />
                  {run.waitingForApproval !== undefined && <div className="small text-warn" data-waiting-approval>waiting for approval</div>}
                  {kept.list?.filter((k) => k.runId === run.id).map((k) => <div key={k.jobId}><DebugBadge kept={k} now={now} /></div>)}
                </td>
                <td>
                  <a className="run-title" href={href({ view: 'run', runId: run.id })}>
                    {run.repo} <span className="muted">#{run.number}</span>
                  </a>
                  <div className="meta">
                    <span className={`event event-${run.event}`}>{EVENT_LABEL[run.event] ?? run.event}</span>
                    {run.prNumber !== undefined && <span>PR #{run.prNumber}</span>}
                    {run.triggeredBy === CATCH_UP_ACTOR
                      ? <span className="pill" data-caught-up title="Kiln found this push by listing the remote: its webhook never arrived">caught up</span>
                      : run.triggeredBy && <span>by {run.triggeredBy}</span>}
                    <span className="muted">{run.pipeline}</span>
                    {run.waiting && <span className="pill pill-waiting pill-free" data-waiting title={run.waiting}>{run.waiting}</span>}
                  </div>
                </td>
                <td>
                  {run.tag ? <span className="ref">🏷 {run.tag}</span> : run.branch ? <span className="ref">{run.branch}</span> : <span className="muted">—</span>}
                </td>
                <td className="commit">
                  <code className="sha">{shortSha(run.sha)}</code>
                  <span className="commit-message" title={run.commitMessage}>{run.error ? <span className="text-danger">{run.error}</span> : run.commitMessage?.split('\n')[0] ?? ''}</span>
                </td>
                <td className="num">{formatDuration(elapsed(run, now))}</td>
                <td className="muted" title={new Date(run.createdAt).toLocaleString()}>{relativeTime(run.startedAt ?? run.createdAt, now)}</td>
                <td><RunActions runId={run.id} status={run.status} compact onError={setError} /></td>
              </tr>
            ))}
          </tbody>
        </table>
        {!loading && runs.length === 0 && !error && (
          <Empty title="No runs yet"><a href={href({ view: 'settings' })}>Add a repository</a> in Settings and push to it, or <a href={href({ view: 'trigger' })}>run a pipeline by hand</a>.</Empty>
        )}
        <div className="table-footer">
          {cursor ? (
            <button type="button" className="btn" disabled={loading} onClick={() => void load(cursor)} data-action="load-more">
              {loading ? 'Loading…' : 'Load more'}
            </button>
          ) : (
            <span className="muted">{loading ? 'Loading…' : runs.length > 0 ? `${runs.length} run${runs.length === 1 ? '' : 's'}` : ''}</span>
          )}
        </div>
      </div>
    </div>
  );
}
