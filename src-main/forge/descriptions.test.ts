import { describe, expect, it } from 'vitest';
import type { JobSummary, RunDetail } from '../../shared/model/run.js';
import { STATUSES, type Status } from '../../shared/model/status.js';
import { formatElapsed } from '../../shared/format.js';
import { clip, forgeStateOf, jobDescription, MAX_DESCRIPTION, runDescription } from './descriptions.js';

const run = (status: Status, extra: Partial<RunDetail> = {}): RunDetail => ({
  id: 'r', number: 1, repo: 'a/b', pipeline: 'web', event: 'push', sha: 'f'.repeat(40), priority: 'normal', status, createdAt: 0,
  jobs: [], edges: [], stages: [], ...extra,
});
const job = (name: string, status: Status, extra: Partial<JobSummary> = {}): JobSummary => ({
  id: name, runId: 'r', planId: name, name, matrix: {}, image: 'x', needs: [], status, attempt: 1, steps: [], ...extra,
});

describe('the mapping of Kiln statuses to forge states', () => {
  it.each([
    ['queued', 'pending'], ['running', 'pending'], ['passed', 'success'], ['skipped', 'success'],
    ['failed', 'failure'], ['timed_out', 'failure'], ['cancelled', 'error'],
  ] as const)('maps %s to %s', (status, state) => {
    expect(forgeStateOf(status)).toBe(state);
  });

  it('never leaves a finished run pending', () => {
    for (const s of STATUSES.filter((x) => x !== 'queued' && x !== 'running')) expect(forgeStateOf(s)).not.toBe('pending');
  });
});

describe('descriptions', () => {
  it.each([
    [run('queued'), {}, 'Queued'],
    [run('queued'), { queuedBehind: 2 }, 'Queued behind 2 runs'],
    [run('queued'), { queuedBehind: 1 }, 'Queued behind 1 run'],
    [run('running'), {}, 'Running'],
    [run('running', { waitingForApproval: 1, jobs: [job('build', 'passed'), job('deploy', 'queued', { approval: { state: 'waiting', requestedAt: 0, expiresAt: 1 } }), job('smoke', 'queued')] }), {}, 'Waiting for approval: deploy'],
    [run('queued', { waitingForApproval: 2 }), { queuedBehind: 3 }, 'Waiting for approval: 2 jobs'],
    [run('passed', { durationMs: 72_000 }), {}, 'Passed in 1 min 12 s'],
    [run('cancelled'), { supersededBy: '3f2a9c1d'.padEnd(40, '0') }, 'Cancelled (superseded by 3f2a9c1)'],
    [run('cancelled'), {}, 'Cancelled'],
    [run('failed', { durationMs: 48_000, jobs: [job('build', 'passed'), job('test', 'failed', { steps: [{ index: 0, name: 'Unit', status: 'failed', exitCode: 1 }] })] }), {}, 'Failed: test › Unit (exit 1) after 48 s'],
    [run('failed', { error: '.kiln.yml:3:5: unknown key' }), {}, 'Failed: .kiln.yml:3:5: unknown key'],
    [run('timed_out', { durationMs: 600_000, jobs: [job('e2e', 'timed_out', { steps: [{ index: 0, name: 'Browser', status: 'timed_out' }] })] }), {}, 'Timed out: e2e › Browser (timed out) after 10 min'],
    [run('skipped', { error: 'no job matched' }), {}, 'Skipped: no job matched'],
  ])('describes %# as %s', (r, facts, text) => {
    expect(runDescription(r, facts)).toBe(text);
  });

  it('keeps a long failure within 140 characters and keeps its duration', () => {
    const long = run('failed', { durationMs: 48_000, jobs: [job('x'.repeat(200), 'failed', { steps: [{ index: 0, name: 'y'.repeat(100), status: 'failed', exitCode: 2 }] })] });
    const text = runDescription(long);
    expect([...text].length).toBeLessThanOrEqual(MAX_DESCRIPTION);
    expect(text.endsWith('… after 48 s')).toBe(true);
  });

  it('cuts on characters, not bytes, and flattens line breaks', () => {
    expect(clip('ä'.repeat(200))).toHaveLength(MAX_DESCRIPTION);
    expect(clip('line one\n  line two')).toBe('line one line two');
  });

  it.each([
    [job('b', 'passed', { durationMs: 12_000 }), 'Passed in 12 s'],
    [job('b', 'skipped', { error: "needs 'a', which failed" }), "Skipped: needs 'a', which failed"],
    [job('b', 'failed', { durationMs: 3_000, steps: [{ index: 0, name: 'lint', status: 'failed', exitCode: 127 }] }), 'Failed: lint (exit 127) after 3 s'],
    [job('b', 'cancelled', { error: 'cancelled before it started' }), 'Cancelled: cancelled before it started'],
  ])('describes job %# as %s', (j, text) => {
    expect(jobDescription(j)).toBe(text);
  });

  it.each([[0, '0 s'], [59_400, '59 s'], [60_000, '1 min'], [3_600_000, '1 h'], [7_500_000, '2 h 5 min']])('formats %i ms as %s', (ms, text) => {
    expect(formatElapsed(ms)).toBe(text);
  });
});
