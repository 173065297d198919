import { describe, expect, it } from 'vitest';
import type { Plan, PlannedJob } from '../../shared/model/plan.js';
import { annotationLocation, countAnnotations, RunResults, SUMMARY_LINES, wantsColour } from './run-results.js';

const job = (id: string): PlannedJob => ({ id, name: id, key: id, steps: [], needs: [] } as unknown as PlannedJob);
const plan = (...ids: string[]): Plan => ({ pipeline: 'p', jobs: ids.map(job) } as unknown as Plan);

function printed(results: RunResults, p: Plan, outcomes = new Map(), colour = false): string {
  let out = '';
  results.print(p, outcomes, { write: (t) => { out += t; }, colour, summaryDir: () => '/dev/null/kiln-run' });
  return out;
}

describe('what kiln run prints after the run', () => {
  it.each([
    [{ file: 'src/a.ts', line: 12, col: 3 }, 'src/a.ts:12:3'],
    [{ file: 'src/a.ts', line: 12 }, 'src/a.ts:12'],
    [{ file: 'src/a.ts', col: 3 }, 'src/a.ts'],
    [{ line: 12 }, ''],
  ])('places an annotation at %j as %s', (a, where) => {
    expect(annotationLocation(a)).toBe(where);
  });

  it('counts annotations by level, errors first', () => {
    expect(countAnnotations([{ level: 'warning' }, { level: 'error' }, { level: 'error' }])).toBe('3 annotations: 2 errors, 1 warning');
    expect(countAnnotations([{ level: 'notice' }])).toBe('1 annotation: 1 notice');
  });

  it.each([
    [{}, true, true],
    [{}, false, false],
    [{ NO_COLOR: '1' }, true, false],
    [{ FORCE_COLOR: '1' }, false, true],
    [{ FORCE_COLOR: '0' }, true, false],
    [{ FORCE_COLOR: '1', NO_COLOR: '1' }, false, false],
    [{ FORCE_COLOR: '0', NO_COLOR: '1' }, true, false],
  ])('with environment %j and a TTY=%s, colours: %s', (env, isTTY, colour) => {
    expect(wantsColour({ isTTY }, env)).toBe(colour);
  });

  it('lists errors before warnings and notices, one line each, messages on one line and free of escape sequences', () => {
    const r = new RunResults();
    r.record('lint', { kind: 'annotation', annotation: { level: 'notice', message: 'took 3 s', source: 'step', step: 0 } });
    r.record('lint', { kind: 'annotation', annotation: { level: 'error', message: 'two\nlines \x1b[2J', source: 'step', step: 0, file: 'a.ts', line: 1, title: 'Bad' } });
    r.record('lint', { kind: 'group', group: { start: 0, end: null, endMarker: false, depth: 0, step: 0, title: 'ignored' } });
    expect(printed(r, plan('lint'))).toBe('\nlint: 2 annotations: 1 error, 1 notice\nerror    a.ts:1  Bad: two ⏎ lines [2J\nnotice   took 3 s\n');
  });

  it('cuts a long summary and says where the whole Markdown would be, or why it could not be written', () => {
    const r = new RunResults();
    const markdown = Array.from({ length: SUMMARY_LINES + 5 }, (_, i) => `- item ${i + 1}`).join('\n');
    r.record('docs', { kind: 'summary', summary: { step: 0, stepName: 'Write', markdown, bytes: markdown.length } });
    const out = printed(r, plan('docs'));
    expect(out).toContain(`  - item ${SUMMARY_LINES}\n`);
    expect(out).not.toContain(`- item ${SUMMARY_LINES + 1}\n`);
    expect(out).toMatch(/ {2}… 5 more lines; the whole Markdown is in \(not written: .*\)\n$/);
  });

  it('prints outputs on one line, long values cut, and nothing for a job that produced nothing', () => {
    const r = new RunResults();
    const outcomes = new Map([['build', { status: 'passed' as const, steps: [], logOffset: 0, outputs: { version: '1.2.3', notes: `${'x'.repeat(100)}\nmore` } }]]);
    expect(printed(r, plan('quiet', 'build'), outcomes)).toBe(`\nbuild: outputs: version=1.2.3, notes=${'x'.repeat(80)}…\n`);
  });

  it('colours the level and the heading only when asked', () => {
    const r = new RunResults();
    r.record('j', { kind: 'annotation', annotation: { level: 'warning', message: 'm', source: 'step', step: 0 } });
    expect(printed(r, plan('j'), new Map(), true)).toBe('\n\x1b[1mj: 1 annotation: 1 warning\x1b[0m\n\x1b[33mwarning\x1b[0m  m\n');
  });
});
