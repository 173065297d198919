/**
 * What `kiln run` prints after the logs, per job: what the dashboard would show beside them. The
 * annotations as a compiler prints problems (`error    src/a.ts:12:3  message`, so an editor or a
 * terminal can jump to them), the test reports' totals and failed cases, the job summary as plain
 * text, and the job's outputs.
 *
 * Call order: record() and hooksFor() during the run (the local runner hands every job's records
 * over and runs the hooks after its steps), then print() once. Nothing is stored: test reports are
 * read straight out of the job's container (storage/report-files.ts, the engine's rules) into
 * memory — totals, and the first failures with their message and output, bounded. A summary longer
 * than the terminal should hold is cut to its first lines; its whole Markdown goes to a file whose
 * path is printed.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Annotation, AnnotationLevel, StepMarkdownSummary } from '../../shared/model/job-records.js';
import type { Plan, PlannedJob } from '../../shared/model/plan.js';
import type { TestCaseStatus, TestFileInfo, TestTotals } from '../../shared/model/test-report.js';
import type { JobHooks, JobRecord } from '../core/job-contract.js';
import type { LocalJobOutcome } from '../executor/local-runner.js';
import type { ParsedCase } from '../storage/junit-parser.js';
import { describeTotals, readReportFiles, sumTotals, type ReportFileSink } from '../storage/report-files.js';
import { markdownToText, stripControls } from './markdown-text.js';

/** Failed cases kept per job (with message and output); the rest are counted. */
export const MAX_FAILURES_SHOWN = 10;
/** Lines of a failed case's output printed. */
export const FAILURE_OUTPUT_LINES = 5;
/** Lines of a job's summary printed before it is cut (the whole Markdown goes to a file). */
export const SUMMARY_LINES = 20;

type JobAnnotation = Omit<Annotation, 'jobId'>;
type JobSummary = Omit<StepMarkdownSummary, 'jobId'>;

export interface FailedCase {
  file: string;
  suite: string;
  classname: string;
  name: string;
  status: TestCaseStatus;
  message?: string;
  output?: string;
}

export interface JobTestResults {
  files: TestFileInfo[];
  totals: TestTotals;
  /** The first failed and errored cases (at most MAX_FAILURES_SHOWN). */
  failures: FailedCase[];
}

interface JobCollected {
  annotations: JobAnnotation[];
  summaries: JobSummary[];
  tests?: JobTestResults;
}

export interface PrintTarget {
  write(text: string): void;
  /** ANSI colours (a terminal that wants them). */
  colour: boolean;
  /** Where a cut summary's whole Markdown is written; made on first use. Default: a new directory under the system's temp. */
  summaryDir?: () => string;
}

const COLOURS: Record<AnnotationLevel | 'bold' | 'dim', string> = { error: '31', warning: '33', notice: '36', bold: '1', dim: '2' };

/** Colour from the environment: NO_COLOR or FORCE_COLOR=0 turn it off, another FORCE_COLOR forces it, otherwise a TTY has it. */
export function wantsColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.NO_COLOR !== undefined && env.NO_COLOR !== '') || env.FORCE_COLOR === '0') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') return true;
  return stream.isTTY === true;
}

/** `src/a.ts:12:3`, `src/a.ts:12`, `src/a.ts`, or '' without a file. */
export function annotationLocation(a: Pick<Annotation, 'file' | 'line' | 'col'>): string {
  if (!a.file) return '';
  return `${a.file}${a.line !== undefined ? `:${a.line}${a.col !== undefined ? `:${a.col}` : ''}` : ''}`;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** "3 annotations: 2 errors, 1 warning". */
export function countAnnotations(list: readonly Pick<Annotation, 'level'>[]): string {
  const by = (level: AnnotationLevel): number => list.filter((a) => a.level === level).length;
  const parts = (['error', 'warning', 'notice'] as const).filter((l) => by(l) > 0).map((l) => plural(by(l), l));
  return `${plural(list.length, 'annotation')}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

/** A file name for a job's summary: its name with anything unusual replaced. */
const fileSafe = (name: string): string => name.replace(/[^A-Za-z0-9._=-]+/g, '_').slice(0, 100) || 'job';

export class RunResults {
  private readonly jobs = new Map<string, JobCollected>();

  private of(jobId: string): JobCollected {
    let j = this.jobs.get(jobId);
    if (!j) this.jobs.set(jobId, (j = { annotations: [], summaries: [] }));
    return j;
  }

  record(jobId: string, r: JobRecord): void {
    if (r.kind === 'annotation') this.of(jobId).annotations.push(r.annotation);
    else if (r.kind === 'summary') this.of(jobId).summaries.push(r.summary);
  }

  /** Reads the job's test reports after its steps (whatever their outcome); undefined for a job without `reports:`. */
  hooksFor(job: PlannedJob): JobHooks | undefined {
    if (!job.reports) return undefined;
    const patterns = job.reports.junit;
    return {
      afterSteps: async (container, _status, log) => {
        const failures: FailedCase[] = [];
        const files = await readReportFiles({ container, patterns, log, sinkFor: (file) => memorySink(job.id, file, failures) });
        const read = files.filter((f) => !f.problem);
        this.of(job.id).tests = { files, totals: sumTotals(read), failures };
      },
    };
  }

  /** What was collected for a job (for tests and callers that format it themselves). */
  collected(jobId: string): Readonly<JobCollected> | undefined {
    return this.jobs.get(jobId);
  }

  /** Prints every job's annotations, tests, summary and outputs, in plan order; jobs with none are left out. */
  print(plan: Plan, outcomes: Map<string, LocalJobOutcome>, target: PrintTarget): void {
    const paint = (code: string, text: string): string => (target.colour ? `\x1b[${code}m${text}\x1b[0m` : text);
    let summaryDir: string | undefined;
    const dir = (): string => (summaryDir ??= target.summaryDir?.() ?? mkdtempSync(join(tmpdir(), 'kiln-run-')));
    for (const job of plan.jobs) {
      const c = this.jobs.get(job.id);
      const outcome = outcomes.get(job.id);
      const outputs = outcome && 'outputs' in outcome ? outcome.outputs : undefined;
      const head = (what: string): void => target.write(`\n${paint(COLOURS.bold, `${stripControls(job.name)}: ${what}`)}\n`);
      if (c && c.annotations.length > 0) {
        head(countAnnotations(c.annotations));
        const order: AnnotationLevel[] = ['error', 'warning', 'notice'];
        const sorted = [...c.annotations].sort((a, b) => order.indexOf(a.level) - order.indexOf(b.level));
        for (const a of sorted) {
          const where = stripControls(annotationLocation(a));
          const message = stripControls(`${a.title ? `${a.title}: ` : ''}${a.message}`).replace(/\n/g, ' ⏎ ');
          target.write(`${paint(COLOURS[a.level], a.level.padEnd(7))}  ${where ? `${where}  ` : ''}${message}\n`);
        }
      }
      if (c?.tests) printTests(c.tests, head, target.write, paint);
      if (c && c.summaries.length > 0) printSummary(job.name, c.summaries, head, target, paint, dir);
      if (outputs && Object.keys(outputs).length > 0) {
        const shown = Object.entries(outputs).map(([k, v]) => `${k}=${oneLine(v, 80)}`);
        head(`outputs: ${stripControls(shown.join(', '))}`);
      }
    }
  }
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\r?\n/g, '⏎');
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/**
 * A report file's cases into memory: totals counted, the first failures kept. A malformed file
 * counts none, so its failures join the job's only when it ended well.
 */
function memorySink(jobId: string, file: string, failures: FailedCase[]): ReportFileSink {
  const totals: TestTotals = { tests: 0, passed: 0, failed: 0, errored: 0, skipped: 0, durationMs: 0 };
  const mine: FailedCase[] = [];
  return {
    add: (c: ParsedCase) => {
      totals.tests++;
      totals[c.status]++;
      totals.durationMs += c.durationMs ?? 0;
      if ((c.status === 'failed' || c.status === 'errored') && mine.length < MAX_FAILURES_SHOWN) {
        mine.push({ file, suite: c.suite, classname: c.classname, name: c.name, status: c.status, message: c.message, output: c.output });
      }
    },
    end: (problem?: string) => {
      totals.durationMs = Math.round(totals.durationMs);
      if (problem !== undefined) {
        for (const k of Object.keys(totals) as Array<keyof TestTotals>) totals[k] = 0;
        return { jobId, file, ...totals, problem };
      }
      failures.push(...mine.slice(0, Math.max(0, MAX_FAILURES_SHOWN - failures.length)));
      return { jobId, file, ...totals };
    },
  };
}

type Paint = (code: string, text: string) => string;

function printTests(t: JobTestResults, head: (what: string) => void, write: (text: string) => void, paint: Paint): void {
  const read = t.files.filter((f) => !f.problem);
  head(read.length === 0 && t.files.length > 0
    ? `test reports: none could be read`
    : `test reports: ${plural(read.length, 'file')}, ${describeTotals(t.totals)}`);
  for (const f of t.files) if (f.problem) write(`${paint(COLOURS.warning, 'unreadable')}  ${stripControls(f.problem)}\n`);
  for (const c of t.failures) {
    const name = [c.classname && c.classname !== c.suite ? c.classname : c.suite, c.name].filter(Boolean).join(' › ');
    write(`${paint(COLOURS.error, c.status.padEnd(7))}  ${stripControls(name)}  ${paint(COLOURS.dim, `(${stripControls(c.file)})`)}\n`);
    const message = c.message ? stripControls(c.message).split('\n')[0] : undefined;
    if (message) write(`         ${message}\n`);
    if (c.output) {
      const lines = stripControls(c.output).split('\n').map((l) => l.trimEnd()).filter((l) => l !== '' && l !== message);
      for (const l of lines.slice(0, FAILURE_OUTPUT_LINES)) write(`         ${paint(COLOURS.dim, `│ ${l}`)}\n`);
      if (lines.length > FAILURE_OUTPUT_LINES) write(`         ${paint(COLOURS.dim, `│ … ${plural(lines.length - FAILURE_OUTPUT_LINES, 'more line')}`)}\n`);
    }
  }
  const failing = t.totals.failed + t.totals.errored;
  if (failing > t.failures.length) write(`         … and ${failing - t.failures.length} more failed (only the first ${t.failures.length} are shown)\n`);
}

function printSummary(jobName: string, summaries: JobSummary[], head: (what: string) => void, target: PrintTarget, paint: Paint, dir: () => string): void {
  const lines: string[] = [];
  const style = { strong: (t: string) => paint(COLOURS.bold, t) };
  for (const s of summaries) {
    if (summaries.length > 1) lines.push(paint(COLOURS.dim, `[step '${stripControls(s.stepName)}']`));
    lines.push(...markdownToText(s.markdown, style));
    if (s.truncated) lines.push(paint(COLOURS.dim, `(${stripControls(s.truncated)})`));
  }
  head(summaries.length === 1 ? `summary (step '${stripControls(summaries[0].stepName)}')` : 'summary');
  for (const l of lines.slice(0, SUMMARY_LINES)) target.write(l === '' ? '\n' : `  ${l}\n`);
  if (lines.length > SUMMARY_LINES) {
    let where: string;
    try {
      const d = dir();
      mkdirSync(d, { recursive: true });
      where = join(d, `${fileSafe(jobName)}.summary.md`);
      writeFileSync(where, summaries.map((s) => s.markdown).join('\n\n'));
    } catch (err) {
      where = `(not written: ${(err as Error).message})`;
    }
    target.write(`  … ${plural(lines.length - SUMMARY_LINES, 'more line')}; the whole Markdown is in ${where}\n`);
  }
}
