import { describe, expect, it } from 'vitest';
import type { RunTiming } from '../../../shared/model/test-report.js';
import { layoutTiming } from './timing-layout.js';

const timing: RunTiming = {
  runId: 'r1', createdAt: 1_000, finishedAt: 11_000,
  jobs: [
    {
      jobId: 'a', name: 'build', status: 'passed',
      segments: [
        { phase: 'queued', start: 1_000, end: 2_000 },
        { phase: 'pulling', start: 2_000, end: 5_000 },
        { phase: 'steps', start: 5_000, end: 9_000 },
        { phase: 'tearing_down', start: 9_000, end: 11_000 },
      ],
      steps: [{ index: 0, name: 'compile', status: 'passed', start: 5_000, end: 9_000 }],
    },
    { jobId: 'b', name: 'test', status: 'running', segments: [{ phase: 'queued', start: 3_000, end: 6_000 }, { phase: 'steps', start: 6_000 }], steps: [] },
  ],
};

describe('the timing view layout', () => {
  it('puts every phase on one axis from the run’s creation, as percentages', () => {
    const l = layoutTiming(timing, 11_000);
    expect(l.rows[0].phases.map((p) => [p.phase, p.left, p.width])).toEqual([
      ['queued', 0, 10], ['pulling', 10, 30], ['steps', 40, 40], ['tearing_down', 80, 20],
    ]);
    expect(l.rows[0].steps.map((s) => [s.name, s.left, s.width])).toEqual([['compile', 40, 40]]);
  });

  it('draws a phase still going up to now and widens the axis to it', () => {
    const l = layoutTiming(timing, 21_000);
    expect(l.end).toBe(21_000);
    expect(l.rows[1].phases[1]).toMatchObject({ phase: 'steps', left: 25, width: 75, end: 21_000 });
  });

  it('sums where the run’s time went per phase, in the order a job lives them', () => {
    expect(layoutTiming(timing, 11_000).totals).toEqual([
      { phase: 'queued', ms: 4_000 }, { phase: 'pulling', ms: 3_000 }, { phase: 'steps', ms: 9_000 }, { phase: 'tearing_down', ms: 2_000 },
    ]);
  });

  it('labels the axis with at most nine round ticks', () => {
    expect(layoutTiming(timing, 11_000).ticks.map((t) => t.ms)).toEqual([0, 2_000, 4_000, 6_000, 8_000, 10_000]);
  });
});
