import { describe, expect, it } from 'vitest';
import type { Plan } from '../../shared/model/plan.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { supersedeGroup } from './run-factory.js';

const plan = (concurrency?: Plan['concurrency']): Plan => ({ pipeline: 'p', priority: 'normal', jobs: [], warnings: [], ...(concurrency ? { concurrency } : {}) });
const sha = 'a'.repeat(40);
const push: TriggerEvent = { kind: 'push', repo: 'acme/web', branch: 'main', sha };
const pr: TriggerEvent = { kind: 'pull_request', repo: 'acme/web', branch: 'feature', baseBranch: 'main', prNumber: 7, sha };
const tag: TriggerEvent = { kind: 'tag', repo: 'acme/web', tag: 'v1', sha };
const manual: TriggerEvent = { kind: 'manual', repo: 'acme/web', branch: 'main', sha };

describe('the group a new run supersedes', () => {
  it.each([
    ['a push without a concurrency block: its branch', plan(), push, 'acme/web/main'],
    ['a pull request without a concurrency block: the pull request', plan(), pr, 'acme/web/pull/7'],
    ['a tag without a concurrency block: nothing', plan(), tag, undefined],
    ['a manual run without a concurrency block: nothing', plan(), manual, undefined],
    ['cancel-in-progress: false: nothing', plan({ group: '', cancelInProgress: false }), push, undefined],
    ['cancel-in-progress with a group: that group', plan({ group: 'deploy', cancelInProgress: true }), manual, 'deploy'],
    ['cancel-in-progress without a group: repo and branch', plan({ group: '', cancelInProgress: true }), push, 'acme/web/main'],
  ])('%s', (_what, p, event, expected) => {
    expect(supersedeGroup(p, event)).toBe(expected);
  });
});
