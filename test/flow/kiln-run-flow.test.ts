/**
 * `kiln run`'s runner (local-runner.ts) on real Docker: outputs flow to the next job as on the
 * server, and a `when: manual` job is skipped with its reason (nobody can approve it there).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePipeline } from '../../src-main/pipeline/parse.js';
import { planPipeline } from '../../src-main/pipeline/plan.js';
import { runPlan } from '../../src-main/executor/local-runner.js';
import { EVENT, harness, type Harness } from '../executor/executor-helpers.js';
import { TEST_IMAGE } from '../helpers/test-image.js';

let h: Harness;
beforeEach(() => { h = harness(); });
afterEach(async () => { await h.cleanup(); });

const PIPELINE = `jobs:
  build:
    image: ${TEST_IMAGE}
    outputs: { tag: '\${{ steps.t.outputs.tag }}' }
    steps:
      - id: t
        run: echo "tag=v7" >> "$KILN_OUTPUT"
  use:
    image: ${TEST_IMAGE}
    needs: build
    if: needs.build.outputs.tag == 'v7'
    steps:
      - run: echo "got \${{ needs.build.outputs.tag }}"
  deploy:
    image: ${TEST_IMAGE}
    needs: use
    when: manual
    steps:
      - run: echo "must not run"
`;

describe('kiln run with outputs and a gate', () => {
  it('hands outputs on and skips the when: manual job, saying why', async () => {
    const parsed = parsePipeline(PIPELINE, '.kiln.yml');
    expect(parsed.diagnostics).toEqual([]);
    const { plan } = planPipeline(parsed.pipeline!, EVENT);
    const lines: Record<string, string[]> = {};
    const outcome = await runPlan(plan!, {
      executor: h.executor, event: EVENT, source: h.source, secrets: {}, parallelism: 2, signal: new AbortController().signal,
      onLog: (id, l) => { (lines[id] ??= []).push(l.text); },
    });
    expect(Object.fromEntries([...outcome.jobs].map(([id, r]) => [id, r.status]))).toEqual({ build: 'passed', use: 'passed', deploy: 'skipped' });
    expect(lines.use).toContain('got v7');
    expect(lines.deploy).toEqual(['[kiln] skipped: when: manual waits for approval, which kiln run cannot give (kiln serve can)']);
  });
});
