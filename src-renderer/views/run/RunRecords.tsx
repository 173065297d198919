import { useMemo, useState } from 'react';
import type { RunRecords } from '../../../shared/api/engine-api.js';
import type { Annotation, AnnotationLevel, StepMarkdownSummary } from '../../../shared/model/job-records.js';
import type { RunDetail } from '../../../shared/model/run.js';
import { annotationLocation } from '../../../shared/model/workflow-commands.js';
import { useAsync, useClient, useEngineEvents, useOnReconnect, useThrottled } from '../../app/hooks.js';
import { href } from '../../app/route.js';
import { renderSummary } from './summary-markdown.js';

const LEVELS: readonly AnnotationLevel[] = ['error', 'warning', 'notice'];
const ICON: Record<AnnotationLevel, string> = { error: '✖', warning: '⚠', notice: 'ℹ' };
const PLURAL: Record<AnnotationLevel, [string, string]> = { error: ['error', 'errors'], warning: ['warning', 'warnings'], notice: ['notice', 'notices'] };
/** Shown before "show all": a run with hundreds of warnings still shows its errors at a glance. */
const FIRST = 20;
const REMOTE_IMAGES_KEY = 'kiln.summaries.remoteImages';

/** A run's annotations and summaries, refetched (throttled) as its jobs change. */
export function useRunRecords(runId: string): RunRecords | undefined {
  const client = useClient();
  const state = useAsync(() => client.getRunRecords(runId), [client, runId]);
  const refresh = useThrottled(() => { state.reload(); }, 1000);
  useEngineEvents((e) => { if ((e.type === 'job' && e.runId === runId) || (e.type === 'run' && e.run.id === runId)) refresh(); });
  useOnReconnect(refresh);
  return state.data;
}

function countOf(list: readonly Annotation[]): string {
  return LEVELS.map((l) => [l, list.filter((a) => a.level === l).length] as const)
    .filter(([, n]) => n > 0).map(([l, n]) => `${n} ${PLURAL[l][n === 1 ? 0 : 1]}`).join(', ');
}

/** A job's annotation counts, for the job table ("2 errors, 1 warning"). */
export function AnnotationCount({ annotations, jobId }: { annotations: readonly Annotation[] | undefined; jobId: string }) {
  const mine = (annotations ?? []).filter((a) => a.jobId === jobId);
  if (mine.length === 0) return null;
  const worst = LEVELS.find((l) => mine.some((a) => a.level === l)) ?? 'notice';
  return <span className={`annotation-count level-${worst}`} data-testid="annotation-count" data-job-id={jobId}>{countOf(mine)}</span>;
}

/** The top of the run view: every annotation, errors first, each linking to its log line. */
export function AnnotationsList({ run, annotations }: { run: RunDetail; annotations: readonly Annotation[] }) {
  const [all, setAll] = useState(false);
  if (annotations.length === 0) return null;
  const names = new Map(run.jobs.map((j) => [j.id, j.name]));
  const shown = all ? annotations : annotations.slice(0, FIRST);
  return (
    <div className="card annotations" data-testid="annotations">
      <div className="annotations-head"><b>Annotations</b> <span className="muted">{countOf(annotations)}</span></div>
      <ul>
        {shown.map((a, i) => {
          const where = annotationLocation(a);
          return (
            <li key={i} className={`annotation level-${a.level}`} data-level={a.level} data-source={a.source}>
              <span className="annotation-icon" title={a.level}>{ICON[a.level]}</span>
              <span className="annotation-job">{names.get(a.jobId) ?? a.jobId}</span>
              {a.title && <b className="annotation-title">{a.title}</b>}
              <span className="annotation-message">{a.message}</span>
              {where && <code className="annotation-where">{where}</code>}
              {a.seq !== undefined && (
                <a className="annotation-link" href={href({ view: 'job', runId: run.id, jobId: a.jobId, line: a.seq + 1 })} data-testid="annotation-link">line {a.seq + 1}</a>
              )}
            </li>
          );
        })}
      </ul>
      {annotations.length > FIRST && (
        <button type="button" className="btn btn-sm" onClick={() => setAll(!all)}>{all ? 'Show fewer' : `Show all ${annotations.length}`}</button>
      )}
    </div>
  );
}

function SummaryBody({ summary, html }: { summary: StepMarkdownSummary; html: string }) {
  return (
    <section className="job-summary-step" data-step={summary.step}>
      {/* Sanitised by renderSummary: markdown-it without raw HTML, then DOMPurify. */}
      <div className="markdown-body" dangerouslySetInnerHTML={{ __html: html }} />
      {summary.truncated && <div className="summary-truncated" data-testid="summary-truncated">✂ {summary.truncated}</div>}
    </section>
  );
}

/** Each job's summary ($KILN_SUMMARY of its steps), under the job table. */
export function JobSummaries({ run, summaries }: { run: RunDetail; summaries: readonly StepMarkdownSummary[] }) {
  const [remote, setRemote] = useState(() => localStorage.getItem(REMOTE_IMAGES_KEY) === 'yes');
  const rendered = useMemo(() => summaries.map((s) => ({ summary: s, ...renderSummary(s.markdown, { allowRemoteImages: remote }) })), [summaries, remote]);
  if (summaries.length === 0) return null;
  return (
    <>
      {run.jobs.filter((j) => summaries.some((s) => s.jobId === j.id)).map((j) => (
        <div key={j.id} className="card job-summary" data-testid="job-summary" data-job-id={j.id}>
          <div className="job-summary-head">
            <b>{j.name}</b> <span className="muted">summary</span>
            {rendered.some((r) => r.summary.jobId === j.id && r.remoteImages > 0) && (
              <label className="toggle">
                <input type="checkbox" checked={remote} name="summary-remote-images"
                  onChange={(e) => { setRemote(e.target.checked); localStorage.setItem(REMOTE_IMAGES_KEY, e.target.checked ? 'yes' : 'no'); }} /> Load remote images
              </label>
            )}
          </div>
          {rendered.filter((r) => r.summary.jobId === j.id).map((r) => <SummaryBody key={r.summary.step} summary={r.summary} html={r.html} />)}
        </div>
      ))}
    </>
  );
}
