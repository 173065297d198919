import { describe, expect, it } from 'vitest';
import type { LogEntry, LogLine } from '../../shared/model/run.js';
import type { JobRecord } from '../core/job-contract.js';
import { JobLog } from './log-capture.js';
import { SecretMasker } from './secret-masker.js';
import { collectStepSummary } from './step-summary.js';
import type { StepRunner } from './step-runner.js';

/** A runner whose steps wrote `files[index]` to $KILN_SUMMARY; reads honour maxBytes as `head -c` does. */
function runnerWith(files: Record<number, string>): StepRunner {
  return {
    readSummaryFile: async ({ index, maxBytes }) => {
      const bytes = Buffer.from(files[index] ?? '', 'utf8');
      return { text: bytes.subarray(0, maxBytes).toString('utf8'), bytes: bytes.length };
    },
  } as Partial<StepRunner> as StepRunner;
}

function capture(secrets: string[] = []) {
  const lines: LogLine[] = [];
  const records: JobRecord[] = [];
  const log = new JobLog(new SecretMasker(secrets), (e: LogEntry) => { const l = { seq: lines.length, ...e }; lines.push(l); return l; }, 0, 1 << 20, (r) => records.push(r));
  const summaries = () => records.flatMap((r) => (r.kind === 'summary' ? [r.summary] : []));
  return { log, lines, summaries };
}

describe('collectStepSummary', () => {
  it('records what a step wrote, masked, and nothing for a step that wrote none', async () => {
    const { log, summaries } = capture(['tok-123456']);
    const runner = runnerWith({ 0: '# Done with tok-123456\n' });
    expect(await collectStepSummary({ runner, log, step: { index: 0, name: 'a' }, used: 0 })).toBeGreaterThan(0);
    expect(await collectStepSummary({ runner, log, step: { index: 1, name: 'b' }, used: 0 })).toBe(0);
    expect(summaries()).toEqual([{ step: 0, stepName: 'a', markdown: '# Done with ***\n', bytes: 23 }]);
  });

  it('cuts at the step limit on a character boundary, with a note and a warning line', async () => {
    const { log, lines, summaries } = capture();
    const text = 'é'.repeat(10); // 20 bytes
    await collectStepSummary({ runner: runnerWith({ 0: text }), log, step: { index: 0, name: 'big' }, used: 0, limits: { step: 5, job: 100 } });
    expect(summaries()[0]).toMatchObject({ markdown: 'éé', bytes: 20, truncated: 'This summary is 20 B; only its first 5 bytes are shown (the limit per step).' });
    expect(lines.map((l) => l.text)).toEqual(["warning: $KILN_SUMMARY of step 'big': This summary is 20 B; only its first 5 bytes are shown (the limit per step)."]);
  });

  it('cuts at what is left of the job\'s limit, saying so', async () => {
    const { log, summaries } = capture();
    const runner = runnerWith({ 0: 'x'.repeat(8), 1: 'y'.repeat(8) });
    const used = await collectStepSummary({ runner, log, step: { index: 0, name: 'one' }, used: 0, limits: { step: 8, job: 12 } });
    await collectStepSummary({ runner, log, step: { index: 1, name: 'two' }, used, limits: { step: 8, job: 12 } });
    expect(summaries()[1]).toMatchObject({ markdown: 'yyyy', truncated: 'This summary is 8 B; only its first 4 B are shown: the summaries of one job may total 12 bytes.' });
  });

  describe('when a secret straddles the cut', () => {
    const SECRET = 'tok-123456';
    it.each([
      ['the step limit', { step: 10, job: 100 }, 0],
      ['what is left of the job\'s limit', { step: 100, job: 30 }, 20],
    ])('masks it before cutting at %s: the kept text ends in (part of) its mask, never its first bytes', async (_what, limits, used) => {
      const { log, summaries } = capture([SECRET]);
      await collectStepSummary({ runner: runnerWith({ 0: `aaaaaaa${SECRET} and more after it` }), log, step: { index: 0, name: 's' }, used, limits });
      expect(summaries()[0].markdown).toBe('aaaaaaa***');
      expect(summaries()[0].truncated).toMatch(/^This summary is 35 B; only its first/);
    });

    it('leaves out one longer than the look-ahead read past the limit, whole', async () => {
      const long = `K${'x'.repeat(20_000)}`;
      const { log, summaries } = capture([long]);
      await collectStepSummary({ runner: runnerWith({ 0: `aaaaa${long}b` }), log, step: { index: 0, name: 's' }, used: 0, limits: { step: 10, job: 100 } });
      expect(summaries()[0].markdown).toBe('aaaaa');
    });

    it('masks values a step added with ::add-mask:: too, in a summary long enough to be read in part', async () => {
      const { log, summaries } = capture([SECRET]);
      const out = log.openStep(0, 'login');
      out.write('stdout', Buffer.from('::add-mask::added-value-42\n'));
      out.end();
      const text = `start added-value-42 ${SECRET} ${'x'.repeat(40_000)}`;
      await collectStepSummary({ runner: runnerWith({ 1: text }), log, step: { index: 1, name: 's' }, used: 0, limits: { step: 100, job: 1000 } });
      expect(summaries()[0].markdown).toMatch(/^start \*\*\* \*\*\* x+$/);
    });

    it('cuts the masked text on a character boundary', async () => {
      const { log, summaries } = capture([SECRET]);
      await collectStepSummary({ runner: runnerWith({ 0: `${SECRET}éééé` }), log, step: { index: 0, name: 's' }, used: 0, limits: { step: 8, job: 100 } });
      expect(summaries()[0].markdown).toBe('***éé');
    });
  });

  it('is a warning line, not a failure, when the file cannot be read', async () => {
    const { log, lines, summaries } = capture();
    const runner = { readSummaryFile: async () => { throw new Error('engine went away'); } } as Partial<StepRunner> as StepRunner;
    expect(await collectStepSummary({ runner, log, step: { index: 0, name: 's' }, used: 0 })).toBe(0);
    expect(summaries()).toEqual([]);
    expect(lines[0].text).toBe("warning: could not read $KILN_SUMMARY of step 's': engine went away");
  });
});
