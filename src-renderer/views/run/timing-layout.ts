/**
 * The timing view's geometry, kept apart from React so it can be tested: every job's phases and
 * steps as percentages of one axis that spans the run (its creation to the last end, or now while
 * it runs), and where the run's time went, phase by phase, summed over its jobs.
 */
import type { RunTiming, TimingPhase } from '../../../shared/model/test-report.js';

export const PHASE_LABEL: Record<TimingPhase, string> = {
  queued: 'queued', pulling: 'pulling the image', setting_up: 'setting up', steps: 'steps', after_steps: 'after the steps',
  kept_for_debug: 'kept for debug', tearing_down: 'tearing down',
};
export const PHASE_ORDER: TimingPhase[] = ['queued', 'pulling', 'setting_up', 'steps', 'after_steps', 'kept_for_debug', 'tearing_down'];

export interface Bar {
  left: number;
  width: number;
  start: number;
  end: number;
}

export interface TimingRow {
  jobId: string;
  name: string;
  status: RunTiming['jobs'][number]['status'];
  phases: Array<Bar & { phase: TimingPhase }>;
  steps: Array<Bar & { name: string; status: RunTiming['jobs'][number]['status'] }>;
}

export interface TimingLayout {
  start: number;
  end: number;
  rows: TimingRow[];
  /** Milliseconds per phase over all jobs, in PHASE_ORDER, phases with no time left out. */
  totals: Array<{ phase: TimingPhase; ms: number }>;
  /** Axis ticks: offsets from `start` in ms, with their position in percent. */
  ticks: Array<{ ms: number; left: number }>;
}

const NICE_STEPS = [100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000];

export function layoutTiming(timing: RunTiming, now: number): TimingLayout {
  let end = timing.createdAt;
  const seen = (t: number | undefined) => { if (t !== undefined && t > end) end = t; };
  for (const j of timing.jobs) {
    for (const s of j.segments) { seen(s.start); seen(s.end ?? now); }
    for (const s of j.steps) { seen(s.start); seen(s.end ?? now); }
  }
  seen(timing.finishedAt);
  const start = timing.createdAt;
  const span = Math.max(1, end - start);
  const bar = (s: number, e: number | undefined): Bar => {
    const stop = e ?? now;
    return { start: s, end: stop, left: ((s - start) / span) * 100, width: (Math.max(0, stop - s) / span) * 100 };
  };
  const totals = new Map<TimingPhase, number>();
  const rows = timing.jobs.map((j) => ({
    jobId: j.jobId,
    name: j.name,
    status: j.status,
    phases: j.segments.map((s) => {
      const b = bar(s.start, s.end);
      totals.set(s.phase, (totals.get(s.phase) ?? 0) + (b.end - b.start));
      return { ...b, phase: s.phase };
    }),
    steps: j.steps.map((s) => ({ ...bar(s.start, s.end), name: s.name, status: s.status })),
  }));
  const step = NICE_STEPS.find((n) => span / n <= 8) ?? Math.ceil(span / 8);
  const ticks: TimingLayout['ticks'] = [];
  for (let ms = 0; ms <= span; ms += step) ticks.push({ ms, left: (ms / span) * 100 });
  return {
    start, end, rows, ticks,
    totals: PHASE_ORDER.filter((p) => (totals.get(p) ?? 0) > 0).map((phase) => ({ phase, ms: totals.get(phase) ?? 0 })),
  };
}
