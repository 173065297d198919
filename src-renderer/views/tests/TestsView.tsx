/**
 * A run's test reports, in the order a person reading a red build needs them: the totals, the
 * failures with their message and output, then a search over every case, the branch's flaky tests
 * and the slowest cases, and last the report files (a malformed one says why it was skipped).
 * The search is in the address (`#/runs/:id/tests?q=`), so a link can share it.
 */
import { useEffect, useState } from 'react';
import type { RunTestReport, TestCaseInfo } from '../../../shared/model/test-report.js';
import { formatDuration, shortSha } from '../../app/format.js';
import { useAsync, useClient, useEngineEvents, useThrottled } from '../../app/hooks.js';
import { href } from '../../app/route.js';
import { Empty, ErrorBanner } from '../../components/ErrorBanner.js';
import { RunPageHeader } from '../run/RunTabs.js';
import '../../styles/reports.css';

const STATUS_LABEL: Record<TestCaseInfo['status'], string> = { passed: 'passed', failed: 'failed', errored: 'error', skipped: 'skipped' };

function caseTitle(c: TestCaseInfo): string {
  return c.classname && !c.name.startsWith(c.classname) ? `${c.classname} › ${c.name}` : c.name;
}

function Failure({ c, jobName }: { c: TestCaseInfo; jobName: string }) {
  return (
    <details className="test-failure" data-test-name={c.name} open>
      <summary>
        <span className={`test-status test-${c.status}`}>{STATUS_LABEL[c.status]}</span>
        <span className="test-name">{caseTitle(c)}</span>
        <span className="muted small">{jobName} · {c.file}{c.durationMs !== undefined ? ` · ${formatDuration(c.durationMs)}` : ''}</span>
      </summary>
      {c.message && <div className="test-message">{c.message}</div>}
      {c.output && <pre className="test-output">{c.output}</pre>}
    </details>
  );
}

function CaseTable({ cases, jobName, testid }: { cases: TestCaseInfo[]; jobName: (id: string) => string; testid: string }) {
  return (
    <table className="tests-table" data-testid={testid}>
      <thead><tr><th>Test</th><th style={{ width: 90 }}>Result</th><th style={{ width: 90 }}>Duration</th><th>Job · file</th></tr></thead>
      <tbody>
        {cases.map((c, i) => (
          <tr key={`${c.jobId}/${c.file}/${i}`} data-test-name={c.name} data-status={c.status}>
            <td>{caseTitle(c)}{c.message && <div className="small muted">{c.message}</div>}</td>
            <td><span className={`test-status test-${c.status}`}>{STATUS_LABEL[c.status]}</span></td>
            <td className="num">{formatDuration(c.durationMs)}</td>
            <td className="muted small">{jobName(c.jobId)} · {c.file}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Totals({ report }: { report: RunTestReport }) {
  const t = report.totals;
  return (
    <div className="test-totals" data-testid="test-totals">
      <div className="metric"><div className="metric-value">{t.tests}</div><div className="metric-label">tests</div></div>
      <div className="metric"><div className="metric-value text-ok">{t.passed}</div><div className="metric-label">passed</div></div>
      <div className="metric"><div className={`metric-value${t.failed ? ' text-danger' : ''}`}>{t.failed}</div><div className="metric-label">failed</div></div>
      <div className="metric"><div className={`metric-value${t.errored ? ' text-danger' : ''}`}>{t.errored}</div><div className="metric-label">errors</div></div>
      <div className="metric"><div className="metric-value">{t.skipped}</div><div className="metric-label">skipped</div></div>
      <div className="metric"><div className="metric-value">{formatDuration(t.durationMs)}</div><div className="metric-label">test time</div></div>
    </div>
  );
}

export function TestsView({ runId, search }: { runId: string; search?: string }) {
  const client = useClient();
  const run = useAsync(() => client.getRun(runId), [client, runId]);
  const report = useAsync(() => client.getTestReport(runId, search), [client, runId, search]);
  const [query, setQuery] = useState(search ?? '');
  const refresh = useThrottled(() => { run.reload(); report.reload(); }, 500);
  useEngineEvents((e) => { if (e.type === 'run' && e.run.id === runId) refresh(); });
  // Typing updates the address after a pause; the address drives the query.
  useEffect(() => {
    if (query === (search ?? '')) return;
    const t = setTimeout(() => { window.location.hash = href({ view: 'tests', runId, search: query.trim() || undefined }); }, 250);
    return () => clearTimeout(t);
  }, [query, search, runId]);

  const jobName = (id: string): string => run.data?.jobs.find((j) => j.id === id)?.name ?? id;
  const r = report.data;
  const problems = r?.files.filter((f) => f.problem) ?? [];
  const subtitle = r ? `${r.files.length - problems.length} report file${r.files.length - problems.length === 1 ? '' : 's'}${problems.length ? `, ${problems.length} unreadable` : ''}` : undefined;
  return (
    <div className="page page-tests">
      <RunPageHeader runId={runId} run={run.data} tab="tests" title="Tests" subtitle={subtitle} />
      <ErrorBanner error={report.error ?? run.error} />
      {r && r.files.length === 0 && !report.loading && (
        <div className="card"><Empty title="No test reports">A job keeps its JUnit XML with <code>reports: {'{'} junit: ['**/junit*.xml'] {'}'}</code> in .kiln.yml.</Empty></div>
      )}
      {r && r.files.length > 0 && (
        <>
          <Totals report={r} />
          {problems.map((f) => (
            <div key={`${f.jobId}/${f.file}`} className="notice test-problem" data-testid="report-problem">
              <b>{f.file}</b> was skipped ({jobName(f.jobId)}): <code>{f.problem}</code>
            </div>
          ))}
          <section className="card section" data-testid="test-failures">
            <h2>Failures <span className="muted">{r.failures.length}</span></h2>
            {r.failures.length === 0 ? <p className="muted">No failed test.</p> : r.failures.map((c, i) => <Failure key={i} c={c} jobName={jobName(c.jobId)} />)}
          </section>
          <section className="card section">
            <div className="search-row">
              <h2>Search</h2>
              <input className="search-box" type="search" name="test-search" placeholder="Test, class or suite name" value={query} onChange={(e) => setQuery(e.target.value)} />
            </div>
            {r.matches && (r.matches.length === 0 ? <p className="muted">No test matches “{search}”.</p> : <CaseTable cases={r.matches} jobName={jobName} testid="test-matches" />)}
          </section>
          <section className="card section" data-testid="flaky-tests">
            <h2>Flaky on this branch <span className="muted">{r.flaky.length}</span></h2>
            {r.flaky.length === 0 ? <p className="muted">No test has failed and then passed on the same commit of this branch.</p> : (
              <table className="tests-table">
                <thead><tr><th>Test</th><th>Job</th><th>Commit</th><th>Failed in</th><th>Passed in</th></tr></thead>
                <tbody>
                  {r.flaky.map((f) => (
                    <tr key={`${f.passedRunId}/${f.job}/${f.classname}/${f.name}`} data-test-name={f.name}>
                      <td>{f.classname && !f.name.startsWith(f.classname) ? `${f.classname} › ${f.name}` : f.name}</td>
                      <td>{f.job}</td>
                      <td><code className="sha">{shortSha(f.sha)}</code></td>
                      <td><a href={href({ view: 'tests', runId: f.failedRunId })}>#{f.failedRunNumber}</a></td>
                      <td><a href={href({ view: 'tests', runId: f.passedRunId })}>#{f.passedRunNumber}</a></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section className="card section">
            <h2>Slowest tests</h2>
            <CaseTable cases={r.slowest} jobName={jobName} testid="slowest-tests" />
          </section>
          <section className="card section">
            <h2>Report files</h2>
            <table className="tests-table" data-testid="report-files">
              <thead><tr><th>File</th><th>Job</th><th className="num">Tests</th><th className="num">Failed</th><th className="num">Errors</th><th className="num">Skipped</th><th className="num">Time</th></tr></thead>
              <tbody>
                {r.files.map((f) => (
                  <tr key={`${f.jobId}/${f.file}`} data-file={f.file}>
                    <td><code>{f.file}</code>{f.problem && <div className="small text-danger">{f.problem}</div>}</td>
                    <td>{jobName(f.jobId)}</td>
                    <td className="num">{f.tests}</td><td className="num">{f.failed}</td><td className="num">{f.errored}</td><td className="num">{f.skipped}</td>
                    <td className="num">{formatDuration(f.durationMs)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      )}
    </div>
  );
}
