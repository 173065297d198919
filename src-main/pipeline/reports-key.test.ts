import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../shared/diagnostics.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { parsePipeline } from './parse.js';
import { planPipeline } from './plan.js';

const push: TriggerEvent = { kind: 'push', repo: 'acme/web', branch: 'main', sha: 'abc123', ref: 'refs/heads/main' };
const lines = (text: string): string[] => parsePipeline(text, '.kiln.yml').diagnostics.map(formatDiagnostic);

const job = (reports: string): string => `jobs:
  test:
    image: node:22
    env: { OUT: results }
    reports: ${reports}
    steps:
      - run: npm test
`;

describe('the reports key of a job', () => {
  it('plans junit globs with variables rendered, in the order written', () => {
    const parsed = parsePipeline(job("{ junit: ['${OUT}/junit*.xml', '**/TEST-*.xml'] }"), '.kiln.yml');
    expect(parsed.diagnostics).toEqual([]);
    const planned = planPipeline(parsed.pipeline!, push).plan?.jobs[0];
    expect(planned?.reports).toEqual({ junit: ['results/junit*.xml', '**/TEST-*.xml'] });
  });

  it('leaves jobs without reports without the key', () => {
    const parsed = parsePipeline(job("{ junit: ['a.xml'] }").replace(/ {4}reports:.*\n/, ''), '.kiln.yml');
    expect(planPipeline(parsed.pipeline!, push).plan?.jobs[0].reports).toBeUndefined();
  });

  it.each([
    ["{ junit: ['/tmp/junit.xml'] }", ".kiln.yml:5:24: job 'test': report pattern '/tmp/junit.xml' is absolute: report patterns are relative to the workspace, e.g. 'build/test-results/**/*.xml'"],
    ["{ junit: ['../junit.xml'] }", ".kiln.yml:5:24: job 'test': report pattern '../junit.xml' contains '..': report patterns cannot leave the workspace, e.g. 'build/test-results/**/*.xml'"],
  ])('refuses %s with the artifacts rule, at the pattern', (reports, message) => {
    expect(lines(job(reports))).toEqual([message]);
  });

  it('names the unknown key and the missing junit list', () => {
    const out = lines(job('{ xml: [a.xml] }')).join('\n');
    expect(out).toMatch(/\.kiln\.yml:5:\d+: .*xml/);
    expect(out).toMatch(/junit/);
  });

  it('refuses an empty junit list', () => {
    expect(lines(job('{ junit: [] }')).join('\n')).toMatch(/\.kiln\.yml:5:\d+: .*junit/);
  });
});
