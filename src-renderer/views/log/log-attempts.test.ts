import { describe, expect, it } from 'vitest';
import { interruptedAttemptTitle, rerunGroupTitle, type LogGroup } from '../../../shared/model/job-records.js';
import type { StepSummary } from '../../../shared/model/run.js';
import { splitAttempts } from './log-attempts.js';
import { AFTER_DEBUGGING, buildSections, splitReruns } from './log-rows.js';

const step = (index: number, name: string, logOffset?: number): StepSummary => ({ index, name, status: 'passed', ...(logOffset !== undefined ? { logOffset } : {}) });
const attempt = (start: number, end: number): LogGroup => ({ start, end, endMarker: false, depth: 0, step: null, title: interruptedAttemptTitle('restart') });
const view = (sections: Array<{ title: string; from: number; to: number }>): string[] => sections.map((s) => `${s.title} ${s.from}-${s.to}`);

describe('a log with an attempt interrupted by a restart', () => {
  it('shows the earlier attempt as its own section, not under "Set up job"', () => {
    // Attempt 1: lines 0-41 (its step 'Count' started at 20); attempt 2 from 42, its 'Count' at 60.
    const sections = buildSections([step(0, 'Count', 60)], 80);
    const { sections: out, groups } = splitAttempts(sections, [attempt(0, 42)]);
    expect(view(out)).toEqual(['Interrupted attempt — Kiln stopped 0-42', 'Set up job 42-60', 'Count 60-80']);
    expect(groups).toEqual([]);
  });

  it('shows a step whose only lines were in the earlier attempt as not started', () => {
    // Step 'Build' started at 30 in attempt 1 and has not started again; attempt 2 began at 42.
    const sections = buildSections([step(0, 'Count', 50), step(1, 'Build', 30)], 70);
    const { sections: out } = splitAttempts(sections, [attempt(0, 42)]);
    expect(view(out)).toEqual(['Interrupted attempt — Kiln stopped 0-42', 'Set up job 42-50', 'Count 50-70', 'Build 70-70']);
  });

  it('gives each of two restarts its own section and leaves other groups alone', () => {
    const other: LogGroup = { start: 65, end: 68, endMarker: true, depth: 0, step: 0, title: 'deps' };
    const { sections: out, groups } = splitAttempts(buildSections([step(0, 'Count', 60)], 80), [attempt(0, 20), attempt(20, 42), other]);
    expect(view(out)).toEqual(['Interrupted attempt — Kiln stopped 0-20', 'Interrupted attempt — Kiln stopped 20-42', 'Set up job 42-60', 'Count 60-80']);
    expect(groups).toEqual([other]);
  });

  it('changes nothing without such a group', () => {
    const sections = buildSections([step(0, 'Count', 10)], 20);
    expect(splitAttempts(sections, []).sections).toEqual(sections);
  });
});

describe('a kept job whose last re-run is followed by more lines', () => {
  it('ends the re-run section at its group and shows the rest under "After debugging"', () => {
    const steps = [step(0, 'Fails', 5)];
    const rerun: LogGroup = { start: 20, end: 30, endMarker: false, depth: 0, step: 0, title: rerunGroupTitle('Fails') };
    const { sections } = splitReruns(buildSections(steps, 33), [rerun]);
    expect(view(sections)).toEqual(['Set up job 0-5', 'Fails 5-20', "re-run of 'Fails' 20-30", `${AFTER_DEBUGGING} 30-33`]);
  });
});
