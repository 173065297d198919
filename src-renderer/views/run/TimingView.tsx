/**
 * The run's jobs on one time axis: what each job waited for (queued behind others, an image pull,
 * set-up), its steps, the work after them, and the time a failed job was kept for debugging, so a
 * person sees what the run spent its time on.
 * Live while the run goes: job events refetch, a ticker grows the running bars.
 */
import type { RunTiming } from '../../../shared/model/test-report.js';
import { isTerminal } from '../../../shared/model/status.js';
import { formatDuration } from '../../app/format.js';
import { useAsync, useClient, useEngineEvents, useThrottled, useTicker } from '../../app/hooks.js';
import { href } from '../../app/route.js';
import { Empty, ErrorBanner } from '../../components/ErrorBanner.js';
import { StatusIcon } from '../../components/StatusBadge.js';
import { RunPageHeader } from './RunTabs.js';
import { layoutTiming, PHASE_LABEL, PHASE_ORDER } from './timing-layout.js';
import '../../styles/reports.css';

export function TimingView({ runId }: { runId: string }) {
  const client = useClient();
  const run = useAsync(() => client.getRun(runId), [client, runId]);
  const timing = useAsync<RunTiming>(() => client.getRunTiming(runId), [client, runId]);
  const refresh = useThrottled(() => { run.reload(); timing.reload(); }, 400);
  useEngineEvents((e) => {
    if ((e.type === 'run' && e.run.id === runId) || (e.type === 'job' && e.runId === runId)) refresh();
  });
  const now = useTicker(!!run.data && !isTerminal(run.data.status));
  const layout = timing.data ? layoutTiming(timing.data, now) : undefined;
  const total = layout ? layout.end - layout.start : undefined;
  return (
    <div className="page page-timing">
      <RunPageHeader runId={runId} run={run.data} tab="timing" title="Timing" subtitle={total !== undefined ? `${formatDuration(total)} from trigger to the last job's end` : undefined} />
      <ErrorBanner error={timing.error ?? run.error} />
      {layout && layout.rows.length === 0 && <div className="card"><Empty title="No jobs">This run started no job.</Empty></div>}
      {layout && layout.rows.length > 0 && (
        <div className="card timing" data-testid="timing">
          <div className="timing-totals" data-testid="timing-totals">
            {layout.totals.map((t) => (
              <span key={t.phase} className="timing-total" data-phase={t.phase}><i className={`phase-swatch phase-${t.phase}`} />{PHASE_LABEL[t.phase]} <b>{formatDuration(t.ms)}</b></span>
            ))}
          </div>
          <div className="timing-grid">
            <div className="timing-axis">
              {layout.ticks.map((t) => <span key={t.ms} style={{ left: `${t.left}%` }}>{formatDuration(t.ms)}</span>)}
            </div>
            {layout.rows.map((row) => (
              <div key={row.jobId} className="timing-row" data-job-id={row.jobId} data-status={row.status}>
                <a className="timing-name" href={href({ view: 'job', runId, jobId: row.jobId })}><StatusIcon status={row.status} /> {row.name}</a>
                <div className="timing-track">
                  {row.phases.map((p, i) => (
                    <div
                      key={i}
                      className={`timing-bar phase-${p.phase}`}
                      data-phase={p.phase}
                      style={{ left: `${p.left}%`, width: `max(2px, ${p.width}%)` }}
                      title={`${PHASE_LABEL[p.phase]}: ${formatDuration(p.end - p.start)}`}
                    />
                  ))}
                  {row.steps.map((s, i) => (
                    <div
                      key={`s${i}`}
                      className={`timing-step status-${s.status}`}
                      data-step={s.name}
                      style={{ left: `${s.left}%`, width: `max(2px, ${s.width}%)` }}
                      title={`step ${s.name}: ${formatDuration(s.end - s.start)} (${s.status})`}
                    />
                  ))}
                </div>
              </div>
            ))}
          </div>
          <div className="timing-legend">
            {PHASE_ORDER.map((p) => <span key={p}><i className={`phase-swatch phase-${p}`} />{PHASE_LABEL[p]}</span>)}
            <span><i className="phase-swatch timing-step-swatch" />a step</span>
          </div>
        </div>
      )}
    </div>
  );
}
