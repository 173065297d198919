import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { repositoryOf, translateEvent } from './github-events.js';
import { FIXTURES } from '../../test/helpers/fixtures.js';

const load = (name: string): unknown => JSON.parse(readFileSync(`${FIXTURES}/${name}`, 'utf8'));

describe('translateEvent with real payloads', () => {
  it.each([
    ['github/push.branch-commits.json', 'push', { kind: 'push', branch: 'master', sha: 'a21683865c088b5fe1906cf6552d15a285a4986d', before: '8357af6fef17bd180014e419f049944cb491238f', commitAuthor: 'Bo Yao', triggeredBy: 'ailisp' }],
    ['github/push.branch-created.json', 'push', { kind: 'push', branch: 'master', sha: '6113728f27ae82c7b1a177c8d03f9e96e0adf246', commitMessage: 'Initial commit' }],
    ['github/push.tag-created.json', 'push', { kind: 'tag', tag: 'simple-tag', ref: 'refs/tags/simple-tag', sha: '6113728f27ae82c7b1a177c8d03f9e96e0adf246' }],
    ['github/push.tag-created.go-scm.json', 'push', { kind: 'tag', tag: 'v0.0.1', triggeredBy: 'bradrydzewski' }],
    ['github/pull_request.opened.json', 'pull_request', { kind: 'pull_request', branch: 'changes', baseBranch: 'master', prNumber: 2, sha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821', baseSha: 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e' }],
    ['github/pull_request.synchronize.json', 'pull_request', { kind: 'pull_request', prNumber: 2, ref: 'refs/pull/2/head' }],
    ['gitea/push.branch-commits.json', 'push', { kind: 'push', branch: 'master', sha: '4522cbcefc20728a5b72b3a86af35e608622c514', triggeredBy: 'unknwon' }],
    ['gitea/pull_request.synchronized.json', 'pull_request', { kind: 'pull_request', branch: 'feature', baseBranch: 'master', prNumber: 1, prTitle: 'Add License File' }],
  ])('%s (%s) starts a run', (file, event, expected) => {
    const t = translateEvent(event, load(file));
    expect(t.kind).toBe('trigger');
    if (t.kind === 'trigger') expect(t.event).toMatchObject(expected);
  });

  it('gives a new branch no previous head (before is all zeros in its payload)', () => {
    const t = translateEvent('push', load('github/push.branch-created.json'));
    expect(t.kind === 'trigger' && 'before' in t.event).toBe(false);
  });

  it.each([
    ['github/push.branch-deleted.json', 'push', /branch 'feature-branch' was deleted/],
    ['github/push.tag-deleted.json', 'push', /tag 'simple-tag' was deleted/],
    ['github/pull_request.closed-unmerged.json', 'pull_request', /closed/],
    ['github/pull_request.closed-merged.json', 'pull_request', /closed \(merged/],
    ['github/create.tag.json', 'create', /event 'create' does not start runs/],
    ['github/delete.tag.json', 'delete', /event 'delete' does not start runs/],
  ])('%s (%s) is ignored with a reason', (file, event, reason) => {
    const t = translateEvent(event, load(file));
    expect(t.kind).toBe('ignored');
    if (t.kind === 'ignored') expect(t.reason).toMatch(reason);
  });

  it('recognises ping', () => {
    expect(translateEvent('ping', load('github/ping.json'))).toEqual({ kind: 'ping', zen: 'Anything added dilutes everything else.' });
  });

  it('reads the repository name', () => {
    expect(repositoryOf(load('github/pull_request.opened.json'))).toBe('Codertocat/Hello-World');
    expect(repositoryOf({})).toBeUndefined();
  });

  it('ignores pull request actions that do not change code', () => {
    const payload = load('github/pull_request.opened.json') as Record<string, unknown>;
    const t = translateEvent('pull_request', { ...payload, action: 'labeled' });
    expect(t).toMatchObject({ kind: 'ignored' });
  });
});
