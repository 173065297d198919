/**
 * What a job produced besides its log lines: log groups, annotations and job summaries. The
 * executor finds them in a step's output (workflow commands, GitHub's syntax, so tools that print
 * `::error file=…::…` work unchanged) and in the step's $KILN_SUMMARY file; storage keeps them so a
 * viewer never has to read a whole log to fold it or to list what went wrong.
 */

export type AnnotationLevel = 'error' | 'warning' | 'notice';

/** One annotation: from a step's `::error …::` line, or Kiln's own (a step failed, timed out, was cancelled). */
export interface Annotation {
  jobId: string;
  level: AnnotationLevel;
  message: string;
  /** 'step' when a step printed it, 'kiln' when Kiln wrote it about the job. */
  source: 'step' | 'kiln';
  /** The log line it came from (links to it); absent when no log numbered the line. */
  seq?: number;
  /** Step index, or null for job-level annotations. */
  step: number | null;
  title?: string;
  file?: string;
  line?: number;
  endLine?: number;
  col?: number;
  endCol?: number;
}

/**
 * A foldable section of a job's log: the `::group::Title` line at `start`, its content lines up to
 * `end`. `end` is the `::endgroup::` line when `endMarker` (a viewer hides that line), else one past
 * the last content line (a group still open when its step ended). `end` is null while it is open.
 */
export interface LogGroup {
  start: number;
  end: number | null;
  endMarker: boolean;
  /** 0 for a top-level group, 1 inside one, … */
  depth: number;
  step: number | null;
  title: string;
}

/**
 * The title of the group around a failed step's re-run in a job kept for debugging. Its lines come
 * after every step's, so a viewer shows such a group (top level, tagged with the step) as a section
 * of its own under this title rather than inside whichever step's lines it follows.
 */
export function rerunGroupTitle(stepName: string): string {
  return `re-run of '${stepName}'`;
}

/**
 * The title of the group around an earlier attempt's lines (Kiln stopped under it, or its engine
 * went away), written when the job starts again. A job's log is one numbering across attempts, and
 * the new attempt's steps own the step sections, so a viewer shows such a group (top level, no
 * step) as a section of its own rather than under "Set up job".
 */
export function interruptedAttemptTitle(why: 'restart' | 'retry'): string {
  return why === 'restart' ? 'Interrupted attempt — Kiln stopped' : 'Earlier attempt — interrupted';
}

/** Whether `g` is the group of an earlier attempt (see interruptedAttemptTitle). */
export function isInterruptedAttempt(g: LogGroup): boolean {
  return g.depth === 0 && g.step === null && !g.endMarker && (g.title === interruptedAttemptTitle('restart') || g.title === interruptedAttemptTitle('retry'));
}

/** The Markdown one step appended to $KILN_SUMMARY, cut to the step's and the job's limits. */
export interface StepMarkdownSummary {
  jobId: string;
  step: number;
  stepName: string;
  markdown: string;
  /** Bytes the step wrote (more than `markdown` holds when truncated). */
  bytes: number;
  /** Why the text was cut, when it was: a sentence for the reader. */
  truncated?: string;
}
