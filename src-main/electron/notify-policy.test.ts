import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../shared/model/run.js';
import { NotifyPolicy } from './notify-policy.js';

let n = 0;
const run = (over: Partial<RunSummary>): RunSummary => ({
  id: `r${++n}`, number: n, repo: 'acme/web', pipeline: 'web', event: 'push', branch: 'main', sha: 'abcdef0123456789',
  priority: 'normal', status: 'passed', createdAt: 0, commitMessage: 'Fix the build\n\nlong text', ...over,
});
const policy = (): NotifyPolicy => new NotifyPolicy((repo) => (repo === 'acme/web' ? 'main' : undefined));

describe('NotifyPolicy', () => {
  it('announces a failing run of the default branch with its commit subject', () => {
    expect(policy().onRun(run({ status: 'failed' }))).toMatchObject({ kind: 'failed', body: 'Fix the build' });
  });

  it('announces a timed-out run as a failure', () => {
    expect(policy().onRun(run({ status: 'timed_out' }))?.title).toContain('timed out');
  });

  it('stays quiet for a passing run when nothing was broken', () => {
    expect(policy().onRun(run({ status: 'passed' }))).toBeUndefined();
  });

  it('announces the recovery once, on the first passing run after a failure', () => {
    const p = policy();
    p.onRun(run({ status: 'failed' }));
    expect(p.onRun(run({ status: 'passed' }))).toMatchObject({ kind: 'recovered' });
    expect(p.onRun(run({ status: 'passed' }))).toBeUndefined();
  });

  it('knows about a failure from before start-up through seed', () => {
    const p = policy();
    p.seed('acme/web', 'failed');
    expect(p.onRun(run({ status: 'passed' }))?.kind).toBe('recovered');
  });

  it('ignores other branches, pull requests, tags and unknown repositories', () => {
    const p = policy();
    expect(p.onRun(run({ status: 'failed', branch: 'feature' }))).toBeUndefined();
    expect(p.onRun(run({ status: 'failed', event: 'pull_request' }))).toBeUndefined();
    expect(p.onRun(run({ status: 'failed', tag: 'v1', event: 'tag' }))).toBeUndefined();
    expect(p.onRun(run({ status: 'failed', repo: 'other/repo' }))).toBeUndefined();
  });

  it('reports one run once even when its final event repeats', () => {
    const p = policy();
    const r = run({ status: 'failed' });
    expect(p.onRun(r)).toBeDefined();
    expect(p.onRun(r)).toBeUndefined();
  });

  it('does not notify for cancelled or running runs', () => {
    const p = policy();
    expect(p.onRun(run({ status: 'cancelled' }))).toBeUndefined();
    expect(p.onRun(run({ status: 'running' }))).toBeUndefined();
  });
});
