import { describe, expect, it } from 'vitest';
import { href, parseRoute, type Route } from './route.js';

describe('hash routes', () => {
  it.each<[string, Route]>([
    ['', { view: 'runs' }],
    ['#/runs', { view: 'runs' }],
    ['#/runs/r-1', { view: 'run', runId: 'r-1' }],
    ['#/runs/r-1/jobs/j%201', { view: 'job', runId: 'r-1', jobId: 'j 1', line: undefined }],
    ['#/runs/r-1/jobs/j1#L123', { view: 'job', runId: 'r-1', jobId: 'j1', line: 123 }],
    ['#/runs/r-1/artifacts', { view: 'artifacts', runId: 'r-1' }],
    ['#/runs/r-1/tests', { view: 'tests', runId: 'r-1' }],
    ['#/runs/r-1/tests?q=cart%20%3E%20adds', { view: 'tests', runId: 'r-1', search: 'cart > adds' }],
    ['#/runs/r-1/timing', { view: 'timing', runId: 'r-1' }],
    ['#/settings', { view: 'settings' }],
    ['#/nonsense', { view: 'runs' }],
  ])('%s parses', (hash, route) => {
    expect(parseRoute(hash)).toEqual(route);
  });

  it('round-trips a job route with a line anchor', () => {
    const route: Route = { view: 'job', runId: 'a/b', jobId: 'test (node=20)', line: 7 };
    expect(parseRoute(href(route))).toEqual(route);
  });

  it('round-trips a Tests route with a search holding slashes and question marks', () => {
    const route: Route = { view: 'tests', runId: 'r/1', search: 'a/b?c=d & e' };
    expect(parseRoute(href(route))).toEqual(route);
  });
});
