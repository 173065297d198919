import { describe, expect, it } from 'vitest';
import type { PlannedJob } from '../../shared/model/plan.js';
import type { Status } from '../../shared/model/status.js';
import { decideJob } from './readiness.js';
import { jobExpressionContext } from './plan.js';
import type { ExpressionContext } from './expressions.js';

const ctx: ExpressionContext = { event: 'push', branch: 'main', sha: 'abc', repo: 'acme/web', matrix: {}, env: {} };

function job(condition?: string, skipped = false): PlannedJob {
  return {
    id: 'deploy',
    key: 'deploy',
    name: 'deploy',
    matrix: {},
    image: 'alpine',
    needs: ['build', 'test'],
    skipped,
    if: condition,
    env: {},
    secrets: [],
    timeoutMs: 60_000,
    services: [],
    steps: [],
  };
}

describe('decideJob', () => {
  const cases: Array<[string | undefined, Status[], 'run' | 'skip']> = [
    [undefined, ['passed', 'passed'], 'run'],
    [undefined, ['passed', 'failed'], 'skip'],
    [undefined, ['passed', 'skipped'], 'skip'],
    [undefined, ['cancelled', 'passed'], 'skip'],
    ["branch == 'main'", ['passed', 'passed'], 'run'],
    ["branch == 'main'", ['failed', 'passed'], 'skip'],
    ['always()', ['failed', 'cancelled'], 'run'],
    ['always()', ['skipped'], 'run'],
    ['failure()', ['passed', 'failed'], 'run'],
    ['failure()', ['passed', 'timed_out'], 'run'],
    ['failure()', ['passed', 'passed'], 'skip'],
    ['failure()', ['passed', 'skipped'], 'skip'],
    ['success()', ['passed', 'skipped'], 'skip'],
    ['success()', ['passed', 'passed'], 'run'],
    ['cancelled()', ['cancelled', 'passed'], 'run'],
    ['cancelled()', ['failed', 'passed'], 'skip'],
    ['!cancelled()', ['failed', 'passed'], 'run'],
    ["always() && branch == 'dev'", ['passed', 'passed'], 'skip'],
    ["failure() || branch == 'main'", ['passed', 'passed'], 'run'],
  ];
  it.each(cases)('if %j with needs %j → %s', (condition, statuses, expected) => {
    expect(decideJob(job(condition), statuses, ctx)).toBe(expected);
  });

  it('keeps a job skipped at plan time skipped, even with always()', () => {
    expect(decideJob(job('always()', true), ['passed'], ctx)).toBe('skip');
  });

  it('sees the planned job\'s matrix values through jobExpressionContext', () => {
    const planned = { ...job("always() && matrix.os == 'linux'"), matrix: { os: 'linux' } };
    const event = { kind: 'push' as const, repo: 'acme/web', branch: 'main', sha: 'abc' };
    expect(decideJob(planned, ['failed'], jobExpressionContext(planned, event))).toBe('run');
    expect(decideJob({ ...planned, matrix: { os: 'mac' } }, ['failed'], jobExpressionContext({ ...planned, matrix: { os: 'mac' } }, event))).toBe('skip');
  });

  it('runs a job without needs', () => {
    expect(decideJob({ ...job(), needs: [] }, [], ctx)).toBe('run');
  });
});
