import { describe, expect, it } from 'vitest';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { parsePipeline } from './parse.js';
import { matchesPatterns, matchesTrigger } from './triggers.js';

function pipelineWith(on: string) {
  const r = parsePipeline(`${on}\njobs: {a: {image: x, steps: [{run: x}]}}\n`, '.kiln.yml');
  if (!r.pipeline) throw new Error(JSON.stringify(r.diagnostics));
  return r.pipeline;
}

const ev = (kind: TriggerEvent['kind'], extra: Partial<TriggerEvent> = {}): TriggerEvent => ({ kind, repo: 'acme/web', sha: 'abc', ...extra });

describe('matchesTrigger', () => {
  const product = pipelineWith("on:\n  push: { branches: [main, 'release/*'], tags: ['v*'] }\n  pull_request: { branches: [main] }\n  manual: true");

  it.each([
    ['push to main', ev('push', { branch: 'main' }), true],
    ['push to release/1.2', ev('push', { branch: 'release/1.2' }), true],
    ['push to release/1/2 (* stays in one segment)', ev('push', { branch: 'release/1/2' }), false],
    ['push to a feature branch', ev('push', { branch: 'feature/x' }), false],
    ['tag v1.0', ev('tag', { tag: 'v1.0' }), true],
    ['tag named main (tags match tag globs only)', ev('tag', { tag: 'main' }), false],
    ['tag 1.0', ev('tag', { tag: '1.0' }), false],
    ['pull request into main from a feature branch', ev('pull_request', { branch: 'feature/x', baseBranch: 'main' }), true],
    ['pull request into develop from main', ev('pull_request', { branch: 'main', baseBranch: 'develop' }), false],
    ['manual', ev('manual', { branch: 'anything' }), true],
  ])('the PRODUCT example runs on %s: %s', (_name, event, expected) => {
    expect(matchesTrigger(product, event)).toBe(expected);
  });

  it('runs on pushes to any branch and manual runs when there is no on:', () => {
    const p = pipelineWith('');
    expect(matchesTrigger(p, ev('push', { branch: 'feature/deep/x' }))).toBe(true);
    expect(matchesTrigger(p, ev('manual', { branch: 'main' }))).toBe(true);
    expect(matchesTrigger(p, ev('tag', { tag: 'v1' }))).toBe(false);
    expect(matchesTrigger(p, ev('pull_request', { baseBranch: 'main' }))).toBe(false);
  });

  it('runs only the automatic triggers on: lists, and manual runs unless it opts out of them', () => {
    const p = pipelineWith('on: { pull_request: {} }');
    expect(matchesTrigger(p, ev('pull_request', { baseBranch: 'anything' }))).toBe(true);
    expect(matchesTrigger(p, ev('push', { branch: 'main' }))).toBe(false);
    expect(matchesTrigger(p, ev('manual'))).toBe(true);
    const optedOut = pipelineWith('on: { pull_request: {}, manual: false }');
    expect(matchesTrigger(optedOut, ev('manual'))).toBe(false);
    expect(matchesTrigger(optedOut, ev('pull_request', { baseBranch: 'main' }))).toBe(true);
  });

  it.each([
    ['on: { push: { branches: [main] } }', true],
    ['on: { push: { tags: [v*] } }', true],
    ['on: { manual: true }', true],
    ['on: { manual: false }', false],
    ['on: { push: {}, manual: false }', false],
  ])('lets a manual run through for %s: %s', (on, expected) => {
    expect(matchesTrigger(pipelineWith(on), ev('manual', { branch: 'main' }))).toBe(expected);
  });

  it('treats a push filter without lists as every branch and every tag', () => {
    const p = pipelineWith('on: { push: }');
    expect(matchesTrigger(p, ev('push', { branch: 'x' }))).toBe(true);
    expect(matchesTrigger(p, ev('tag', { tag: 'x' }))).toBe(true);
  });

  it('does not run branch pushes when only tags are listed, nor tags when only branches are', () => {
    const tagsOnly = pipelineWith("on: { push: { tags: ['v*'] } }");
    expect(matchesTrigger(tagsOnly, ev('push', { branch: 'main' }))).toBe(false);
    expect(matchesTrigger(tagsOnly, ev('tag', { tag: 'v2' }))).toBe(true);
    const branchesOnly = pipelineWith('on: { push: { branches: [main] } }');
    expect(matchesTrigger(branchesOnly, ev('tag', { tag: 'v2' }))).toBe(false);
  });
});

describe('matchesPatterns', () => {
  it.each([
    ['main', ['main'], true],
    ['feature/a/b', ['feature/**'], true],
    ['feature/a', ['*'], false],
    ['feature/a', ['**'], true],
    ['release/1', ['release/*', '!release/1'], false],
    ['release/2', ['release/*', '!release/1'], true],
    ['release/1', ['!release/1', 'release/*'], true],
    ['x', [], false],
    ['x', undefined, true],
    ['.hidden', ['*'], true],
  ])('%j against %j → %s', (value, patterns, expected) => {
    expect(matchesPatterns(value, patterns)).toBe(expected);
  });
});
