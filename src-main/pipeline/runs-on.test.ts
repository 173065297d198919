import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../shared/diagnostics.js';
import { parsePipeline, planPipeline } from './index.js';
import { engineSatisfies, runsOnDiagnostics } from './runs-on.js';

const EVENT = { kind: 'push' as const, repo: 'acme/web', branch: 'main', sha: 'a'.repeat(40), ref: 'refs/heads/main' };

function plan(text: string) {
  const { pipeline, diagnostics } = parsePipeline(text, '.kiln.yml');
  expect(diagnostics).toEqual([]);
  const planned = planPipeline(pipeline!, EVENT, {});
  return { pipeline: pipeline!, plan: planned.plan! };
}

describe('runs-on', () => {
  it('is planned as a list, from a single label or a list, and left out when absent', () => {
    const { plan: p } = plan('jobs:\n  a: { image: x, runs-on: gpu, steps: [{ run: "true" }] }\n  b: { image: x, runs-on: [gpu, arch=arm64], steps: [{ run: "true" }] }\n  c: { image: x, steps: [{ run: "true" }] }\n');
    expect(p.jobs.map((j) => j.runsOn)).toEqual([['gpu'], ['gpu', 'arch=arm64'], undefined]);
  });

  it.each([
    [['gpu', 'big'], ['gpu'], true],
    [['gpu'], ['gpu', 'big'], false],
    [[], undefined, true],
    [['arch=amd64'], ['arch=arm64'], false],
  ])('an engine with %j takes a job asking %j: %s', (labels, wanted, ok) => {
    expect(engineSatisfies(labels, wanted)).toBe(ok);
  });

  it('reports each job no engine has the labels for, once for all its matrix instances, at its runs-on', () => {
    const { pipeline, plan: p } = plan('jobs:\n  train:\n    image: x\n    matrix: { n: [1, 2] }\n    runs-on: [tpu]\n    steps: [{ run: "true" }]\n  ok:\n    image: x\n    runs-on: [gpu]\n    steps: [{ run: "true" }]\n');
    const out = runsOnDiagnostics(pipeline, p, [{ name: 'box', labels: ['gpu'] }, { name: 'local', labels: [] }]);
    expect(out.map(formatDiagnostic)).toEqual([
      ".kiln.yml:5:14: job 'train' runs-on [tpu], which no engine has (engines: box [gpu], local []); add the labels to an engine under engines: in kiln.config.yml, or change runs-on",
    ]);
  });
});
