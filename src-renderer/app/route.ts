/**
 * Hash routes: `#/runs`, `#/runs/:id`, `#/runs/:id/jobs/:jobId`, `#/runs/:id/artifacts`,
 * `#/runs/:id/tests` (`?q=` a search), `#/runs/:id/timing`, `#/trigger`,
 * `#/deliveries`, `#/storage`, `#/engines`, `#/settings`, `#/schedules`. A line anchor follows a second `#`:
 * `#/runs/r1/jobs/j1#L123`. Hash routing works the same from `kiln serve` and from Electron's file://.
 */
export type Route =
  | { view: 'runs' }
  | { view: 'run'; runId: string }
  | { view: 'job'; runId: string; jobId: string; line?: number }
  | { view: 'artifacts'; runId: string }
  | { view: 'tests'; runId: string; search?: string }
  | { view: 'timing'; runId: string }
  | { view: 'trigger' }
  | { view: 'deliveries' }
  | { view: 'storage' }
  | { view: 'engines' }
  | { view: 'settings' }
  | { view: 'schedules' };

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [path, anchor] = [raw.split('#')[0], raw.split('#')[1]];
  const parts = path.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  if (parts[0] === 'runs' && parts[1]) {
    if (parts[2] === 'jobs' && parts[3]) {
      const m = /^L(\d+)$/.exec(anchor ?? '');
      return { view: 'job', runId: parts[1], jobId: parts[3], line: m ? Number(m[1]) : undefined };
    }
    if (parts[2] === 'artifacts') return { view: 'artifacts', runId: parts[1] };
    if (parts[2]?.split('?')[0] === 'tests') {
      const search = new URLSearchParams(path.split('?')[1] ?? '').get('q') ?? undefined;
      return search ? { view: 'tests', runId: parts[1], search } : { view: 'tests', runId: parts[1] };
    }
    if (parts[2] === 'timing') return { view: 'timing', runId: parts[1] };
    return { view: 'run', runId: parts[1] };
  }
  if (parts[0] === 'trigger' || parts[0] === 'deliveries' || parts[0] === 'storage' || parts[0] === 'engines' || parts[0] === 'settings' || parts[0] === 'schedules') return { view: parts[0] };
  return { view: 'runs' };
}

export function href(route: Route): string {
  const e = encodeURIComponent;
  switch (route.view) {
    case 'runs': return '#/runs';
    case 'run': return `#/runs/${e(route.runId)}`;
    case 'job': return `#/runs/${e(route.runId)}/jobs/${e(route.jobId)}${route.line !== undefined ? `#L${route.line}` : ''}`;
    case 'artifacts': return `#/runs/${e(route.runId)}/artifacts`;
    case 'tests': return `#/runs/${e(route.runId)}/tests${route.search ? `?q=${e(route.search)}` : ''}`;
    case 'timing': return `#/runs/${e(route.runId)}/timing`;
    default: return `#/${route.view}`;
  }
}
