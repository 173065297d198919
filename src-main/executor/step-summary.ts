/**
 * Job summaries: the Markdown a step appends to $KILN_SUMMARY, read back after the step (whatever
 * its outcome, as long as it ran to its end) and handed to the job's record sink. Limits per step and
 * per job keep one runaway `cat` from filling the database or the browser; past them the text is
 * cut at a character boundary and the summary carries a sentence saying what was cut. Secrets are
 * masked like log lines, before the cut: a bit past the limit is read, so a secret that straddles
 * it reads `***` (one longer than that look-ahead is left out whole), never its first bytes.
 * Rendering (Markdown, sanitising) is the dashboard's.
 */
import { formatBytes, formatLimit } from '../../shared/format.js';
import type { JobLog } from './log-capture.js';
import type { StepRunner } from './step-runner.js';

/** Largest summary kept per step (GitHub's limit too). */
export const MAX_STEP_SUMMARY_BYTES = 1024 * 1024;
/** Largest total of a job's summaries. */
export const MAX_JOB_SUMMARY_BYTES = 2 * 1024 * 1024;

export interface SummaryLimits {
  step: number;
  job: number;
}

/** Read past the limit, so that a secret straddling the cut is masked whole before the text is cut. */
const LOOKAHEAD_BYTES = 16 * 1024;

/** The first `max` bytes of `bytes` as text, without a character cut in half. */
function cutUtf8(bytes: Buffer, max: number): string {
  if (bytes.length <= max) return bytes.toString('utf8');
  return bytes.subarray(0, max).toString('utf8').replace(/\uFFFD+$/, '');
}

/**
 * Reads step `index`'s summary and records it; returns the bytes kept (count them against the job).
 * A runner without summaries, or a step that wrote none, records nothing. Never rejects: a read
 * that fails is a warning line.
 */
export async function collectStepSummary(o: {
  runner: StepRunner;
  log: JobLog;
  step: { index: number; name: string };
  /** Bytes the job's earlier summaries kept. */
  used: number;
  limits?: SummaryLimits;
}): Promise<number> {
  const { runner, log, step } = o;
  if (!runner.readSummaryFile) return 0;
  const limits = o.limits ?? { step: MAX_STEP_SUMMARY_BYTES, job: MAX_JOB_SUMMARY_BYTES };
  const room = Math.max(0, Math.min(limits.step, limits.job - o.used));
  try {
    const readMax = room === 0 ? 0 : room + LOOKAHEAD_BYTES;
    const read = await runner.readSummaryFile({ index: step.index, maxBytes: readMax });
    if (read.bytes === 0) return 0;
    // Mask first, then cut. A read that stopped short of the file's end is the head of a longer text.
    const masked = read.bytes <= readMax ? Buffer.from(log.mask(read.text), 'utf8') : log.maskHead(Buffer.from(read.text, 'utf8'));
    const markdown = cutUtf8(masked, room);
    let truncated: string | undefined;
    if (read.bytes > room) {
      truncated = room < limits.step
        ? `This summary is ${formatBytes(read.bytes)}; ${room === 0 ? 'none of it is' : `only its first ${formatBytes(room)} are`} shown: the summaries of one job may total ${formatLimit(limits.job)}.`
        : `This summary is ${formatBytes(read.bytes)}; only its first ${formatLimit(limits.step)} are shown (the limit per step).`;
      log.system(`warning: $KILN_SUMMARY of step '${step.name}': ${truncated}`, step.index);
    }
    log.emitRecord({ kind: 'summary', summary: { step: step.index, stepName: step.name, markdown, bytes: read.bytes, ...(truncated ? { truncated } : {}) } });
    return Buffer.byteLength(markdown);
  } catch (err) {
    log.system(`warning: could not read $KILN_SUMMARY of step '${step.name}': ${(err as Error).message}`, step.index);
    return 0;
  }
}
