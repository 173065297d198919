import type { RunSummary } from '../../../shared/model/run.js';
import { href } from '../../app/route.js';
import { StatusBadge } from '../../components/StatusBadge.js';

export type RunTab = 'tests' | 'timing';

/** The crumbs, title and tab bar of a run's secondary pages (Tests, Timing). */
export function RunPageHeader({ runId, run, tab, title, subtitle }: { runId: string; run?: RunSummary; tab: RunTab; title: string; subtitle?: string }) {
  return (
    <>
      <div className="crumbs"><a href={href({ view: 'runs' })}>Runs</a> / <a href={href({ view: 'run', runId })}>{run ? `${run.repo} #${run.number}` : runId}</a></div>
      <header className="page-header">
        <div>
          <h1>{title} {run && <StatusBadge status={run.status} />}</h1>
          {subtitle && <p className="subtitle">{subtitle}</p>}
        </div>
      </header>
      <nav className="tabs">
        <a href={href({ view: 'run', runId })}>Pipeline</a>
        <a href={href({ view: 'artifacts', runId })}>Artifacts</a>
        <a className={tab === 'tests' ? 'active' : ''} href={href({ view: 'tests', runId })}>Tests</a>
        <a className={tab === 'timing' ? 'active' : ''} href={href({ view: 'timing', runId })}>Timing</a>
      </nav>
    </>
  );
}
