import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { parsePipeline } from './parse.js';
import { planPipeline } from './plan.js';
import { matchesTrigger } from './triggers.js';

// The "complete example" of the pipeline reference is what new users copy: it must validate and
// plan as the text under it says.
const doc = readFileSync(new URL('../../docs/pipeline-reference.md', import.meta.url), 'utf8');
const example = /## A complete example\s+```yaml\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
const base = { repo: 'acme/web', sha: 'a'.repeat(40) };

function planFor(event: TriggerEvent): { triggered: boolean; runs: string[]; skipped: string[] } {
  const parsed = parsePipeline(example, '.kiln.yml');
  const planned = planPipeline(parsed.pipeline!, event);
  const jobs = planned.plan?.jobs ?? [];
  return {
    triggered: matchesTrigger(parsed.pipeline!, event),
    runs: [...new Set(jobs.filter((j) => !j.skipped).map((j) => j.key))],
    skipped: [...new Set(jobs.filter((j) => j.skipped).map((j) => j.key))],
  };
}

describe('the complete example of docs/pipeline-reference.md', () => {
  it('validates without a diagnostic', () => {
    expect(example).toContain('jobs:');
    expect(parsePipeline(example, '.kiln.yml').diagnostics).toEqual([]);
  });

  it('deploys on a pushed tag v1.0, after build and every test instance', () => {
    const plan = planFor({ ...base, kind: 'tag', tag: 'v1.0', ref: 'refs/tags/v1.0' });
    expect(plan).toEqual({ triggered: true, runs: ['build', 'test', 'deploy'], skipped: [] });
    expect(planPipeline(parsePipeline(example, '.kiln.yml').pipeline!, { ...base, kind: 'tag', tag: 'v1.0', ref: 'refs/tags/v1.0' }).plan?.jobs.filter((j) => j.key === 'test')).toHaveLength(5);
  });

  it('builds and tests a push to main and skips deploy', () => {
    const plan = planFor({ ...base, kind: 'push', branch: 'main', ref: 'refs/heads/main' });
    expect(plan).toEqual({ triggered: true, runs: ['build', 'test'], skipped: ['deploy'] });
  });

  it('only builds a push to a release branch', () => {
    const plan = planFor({ ...base, kind: 'push', branch: 'release/1.x', ref: 'refs/heads/release/1.x' });
    expect(plan).toEqual({ triggered: true, runs: ['build'], skipped: ['test', 'deploy'] });
  });
});
