import { describe, expect, it } from 'vitest';
import type { JobSummary } from '../../../shared/model/run.js';
import { layoutRun } from './graph-layout.js';

const job = (id: string, stage?: string, needs: string[] = []): JobSummary => ({
  id, runId: 'r', planId: id, name: id, stage, matrix: {}, image: 'x', needs, status: 'queued', attempt: 0, steps: [],
});

describe('layoutRun', () => {
  it('puts each stage in its own group, left to right in stage order', () => {
    const jobs = [job('build', 'build'), job('test-a', 'test', ['build']), job('test-b', 'test', ['build']), job('deploy', 'deploy', ['test-a', 'test-b'])];
    const edges = [{ from: 'build', to: 'test-a' }, { from: 'build', to: 'test-b' }, { from: 'test-a', to: 'deploy' }, { from: 'test-b', to: 'deploy' }];
    const layout = layoutRun({ jobs, edges, stages: ['build', 'test', 'deploy'] });
    expect(layout.groups.map((g) => g.label)).toEqual(['build', 'test', 'deploy']);
    const xs = layout.groups.map((g) => g.x);
    expect(xs[0]).toBeLessThan(xs[1]);
    expect(xs[1]).toBeLessThan(xs[2]);
    const testJobs = layout.jobs.filter((j) => j.groupId === 'stage:test');
    expect(testJobs.map((j) => j.x)).toEqual([testJobs[0].x, testJobs[0].x]);
    expect(testJobs[0].y).not.toBe(testJobs[1].y);
  });

  it('moves a job that needs a job of its own stage one sub-column right', () => {
    const jobs = [job('a', 'test'), job('b', 'test', ['a'])];
    const layout = layoutRun({ jobs, edges: [{ from: 'a', to: 'b' }], stages: ['test'] });
    const [a, b] = layout.jobs;
    expect(b.x).toBeGreaterThan(a.x);
    expect(layout.groups[0].width).toBeGreaterThan(2 * 200);
  });

  it('places unstaged jobs by their depth in the DAG', () => {
    const jobs = [job('a'), job('b', undefined, ['a']), job('c', undefined, ['b'])];
    const layout = layoutRun({ jobs, edges: [{ from: 'a', to: 'b' }, { from: 'b', to: 'c' }], stages: [] });
    expect(layout.groups).toEqual([]);
    const [a, b, c] = layout.jobs;
    expect(a.x).toBeLessThan(b.x);
    expect(b.x).toBeLessThan(c.x);
  });

  it('survives a cyclic edge list without looping', () => {
    const jobs = [job('a', undefined, ['b']), job('b', undefined, ['a'])];
    expect(layoutRun({ jobs, edges: [{ from: 'a', to: 'b' }, { from: 'b', to: 'a' }], stages: [] }).jobs).toHaveLength(2);
  });
});
