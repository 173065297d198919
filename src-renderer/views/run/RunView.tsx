import { useMemo, useState } from 'react';
import type { RunDetail } from '../../../shared/model/run.js';
import { everythingChangedLine } from '../../../shared/model/change-set.js';
import { isTerminal } from '../../../shared/model/status.js';
import { elapsed, formatDuration, relativeTime, shortSha } from '../../app/format.js';
import { useAsync, useClient, useEngineEvents, useOnReconnect, useThrottled, useTicker } from '../../app/hooks.js';
import { href } from '../../app/route.js';
import { ErrorBanner } from '../../components/ErrorBanner.js';
import { ApprovalCard } from '../../components/ApprovalCard.js';
import { RunActions } from '../../components/RunActions.js';
import { StatusBadge, StatusIcon } from '../../components/StatusBadge.js';
import { LogViewer } from '../log/LogViewer.js';
import { PAGE_SIZE } from '../log/log-page-cache.js';
import { PipelineGraph } from './PipelineGraph.js';
import { RunReportingCard } from '../forge/RunReportingCard.js';
import { AnnotationCount, AnnotationsList, JobSummaries, useRunRecords } from './RunRecords.js';
import { DebugPanel } from '../debug/DebugPanel.js';
import { DebugBadge, useKeptJobs } from '../debug/kept-jobs.js';

const EVENT_LABEL = { push: 'Push', tag: 'Tag', pull_request: 'Pull request', manual: 'Manual', schedule: 'Schedule' } as const;

function RunHeader({ run, now, onError }: { run: RunDetail; now: number; onError: (e: Error) => void }) {
  return (
    <header className="run-header">
      <div className="run-header-main">
        <div className="crumbs"><a href={href({ view: 'runs' })}>Runs</a> / <span>{run.repo}</span></div>
        <h1>
          <StatusBadge status={run.status} />
          <span>{run.commitMessage?.split('\n')[0] || run.pipeline}</span>
          <span className="muted">#{run.number}</span>
        </h1>
        <div className="run-facts">
          <span><b>{EVENT_LABEL[run.event] ?? run.event}</b>{run.triggeredBy ? ` by ${run.triggeredBy}` : ''}</span>
          {run.branch && <span className="ref">{run.branch}</span>}
          {run.tag && <span className="ref">🏷 {run.tag}</span>}
          {run.prNumber !== undefined && <span>PR #{run.prNumber}{run.prTitle ? ` ${run.prTitle}` : ''}</span>}
          <code className="sha" title={run.sha}>{shortSha(run.sha)}</code>
          <span>pipeline <b>{run.pipeline}</b></span>
          <span>took <b>{formatDuration(elapsed(run, now))}</b></span>
          <span className="muted">{relativeTime(run.createdAt, now)}</span>
        </div>
        {run.error && <div className="run-error">{run.error}</div>}
        {run.waitingForApproval !== undefined && <div className="run-waiting" data-testid="waiting-for-approval">Waiting for approval: {run.waitingForApproval} job{run.waitingForApproval === 1 ? '' : 's'} must be approved before anything else runs</div>}
        {run.waiting && <div className="run-waiting" data-testid="run-waiting">{run.waiting}</div>}
        {run.schedule && <div className="run-schedule muted" data-testid="schedule-note">{run.schedule.note}</div>}
        {everythingChangedLine(run.changes) && <div className="run-schedule muted" data-testid="changes-note" title={run.changes?.kind === 'everything' ? run.changes.reason : undefined}>{everythingChangedLine(run.changes)}</div>}
      </div>
      <RunActions runId={run.id} status={run.status} onError={onError} />
    </header>
  );
}

/** One run: header, tabs (pipeline graph, artifacts), and the selected job's log beside the job list. */
export function RunView({ runId, jobId, line }: { runId: string; jobId?: string; line?: number }) {
  const client = useClient();
  const { data: run, error, reload } = useAsync(() => client.getRun(runId), [client, runId]);
  // Ask for the log's first page together with the run, not after it: first lines show sooner.
  const firstPage = useMemo(() => (jobId ? client.getLog(jobId, 0, PAGE_SIZE) : undefined), [client, jobId]);
  firstPage?.catch(() => undefined);
  const [actionError, setActionError] = useState<Error | undefined>();
  // What the person asked for and got (debugging ended): said plainly, not as an error.
  const [notice, setNotice] = useState<string | undefined>();
  const [patched, setPatched] = useState<Record<string, RunDetail['jobs'][number]['status']>>({});
  const kept = useKeptJobs({ runId, active: !!run && !isTerminal(run.status) });
  const refresh = useThrottled(() => { reload(); kept.reload(); }, 250);
  const records = useRunRecords(runId);

  useEngineEvents((event) => {
    if (event.type === 'run' && event.run.id === runId) refresh();
    if (event.type === 'job' && event.runId === runId) {
      // Paint the new status at once; the refetch brings durations and steps.
      setPatched((p) => ({ ...p, [event.jobId]: event.status }));
      refresh();
    }
  });
  // Back from a dropped stream (a server restart): statuses may have moved without an event heard.
  useOnReconnect(() => { setPatched({}); refresh(); });

  const now = useTicker((!!run && !isTerminal(run.status)) || kept.byJob.size > 0);
  if (!run) return <div className="page"><ErrorBanner error={error} />{!error && <div className="loading">Loading run…</div>}</div>;

  const shown: RunDetail = { ...run, jobs: run.jobs.map((j) => (patched[j.id] && !isTerminal(j.status) ? { ...j, status: patched[j.id] } : j)) };
  const job = jobId ? shown.jobs.find((j) => j.id === jobId) : undefined;
  const jobHref = (id: string): string => href({ view: 'job', runId, jobId: id });
  const openJob = (id: string): void => { window.location.hash = jobHref(id); };

  return (
    <div className="page page-run" data-run-id={run.id} data-status={run.status}>
      <RunHeader run={shown} now={now} onError={setActionError} />
      <ErrorBanner error={actionError ?? error} />
      {/* Ending debugging also settles an earlier terminal problem (a lost connection): the notice replaces it. */}
      {notice && !actionError && <div className="notice" data-testid="run-notice">{notice}</div>}
      {records && <AnnotationsList run={shown} annotations={records.annotations} />}
      <nav className="tabs">
        <a className={!jobId ? 'active' : ''} href={href({ view: 'run', runId })}>Pipeline</a>
        {jobId && job && <a className="active" href={href({ view: 'job', runId, jobId })}>{job.name}</a>}
        <a href={href({ view: 'artifacts', runId })}>Artifacts</a>
        <a href={href({ view: 'tests', runId })}>Tests</a>
        <a href={href({ view: 'timing', runId })}>Timing</a>
      </nav>
      {!jobId && (
        <>
          <ApprovalCard run={run} now={now} onError={setActionError} />
          <PipelineGraph run={shown} now={now} jobHref={jobHref} kept={kept.byJob} />
          <RunReportingCard runId={runId} />
          <div className="card job-table">
            <table>
              <thead><tr><th style={{ width: 28 }} /><th>Job</th><th>Stage</th><th>Image</th><th>Engine</th><th style={{ width: 100 }}>Duration</th></tr></thead>
              <tbody>
                {shown.jobs.map((j) => (
                  <tr key={j.id} data-job-id={j.id} data-status={j.status} data-debug={kept.byJob.has(j.id) ? 'waiting' : undefined} className="clickable" onClick={() => openJob(j.id)}>
                    <td><StatusIcon status={kept.byJob.has(j.id) ? 'failed' : j.status} /></td>
                    <td>
                      <a href={href({ view: 'job', runId, jobId: j.id })}>{j.name}</a> <AnnotationCount annotations={records?.annotations} jobId={j.id} />
                      {kept.byJob.has(j.id) && <> <DebugBadge kept={kept.byJob.get(j.id)!} now={now} /></>}
                      {j.error && <div className="text-danger small">{j.error}</div>}
                    </td>
                    <td className="muted">{j.stage ?? '—'}</td>
                    <td><code className="image">{j.image}</code></td>
                    <td className="muted" data-engine={j.engine ?? ''}>{j.engine ?? '—'}</td>
                    <td className="num">{j.status === 'skipped' ? 'skipped' : formatDuration(elapsed(j, now))}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {records && <JobSummaries run={shown} summaries={records.summaries} />}
        </>
      )}
      {jobId && kept.list?.filter((k) => k.jobId === jobId).map((k) => <DebugPanel key={k.jobId} kept={k} offline={kept.offline} onChanged={refresh} onError={setActionError} onNotice={(text) => { setActionError(undefined); setNotice(text); }} />)}
      {jobId && (
        <div className="job-layout">
          <aside className="job-list">
            {shown.jobs.map((j) => (
              <a key={j.id} href={href({ view: 'job', runId, jobId: j.id })} className={`job-list-item${j.id === jobId ? ' active' : ''}`} data-job-id={j.id} data-status={j.status}>
                <StatusIcon status={j.status} />
                <span className="job-list-name">{j.name}{kept.byJob.has(j.id) && <span className="debug-dot" title="kept for debugging">● debug</span>}</span>
                <span className="job-list-time">{j.status === 'skipped' ? '' : formatDuration(elapsed(j, now))}</span>
              </a>
            ))}
          </aside>
          {job ? <LogViewer key={job.id} runId={runId} job={job} line={line} firstPage={firstPage} /> : <div className="empty">This run has no job {jobId}.</div>}
        </div>
      )}
    </div>
  );
}
