/**
 * Test reports (JUnit XML a job declares under `reports: { junit: [...] }`) as the run view shows
 * them, and the timing of a run's jobs. Times are epoch milliseconds; durations milliseconds.
 */
import type { Status } from './status.js';

export type TestCaseStatus = 'passed' | 'failed' | 'errored' | 'skipped';

export interface TestTotals {
  tests: number;
  passed: number;
  failed: number;
  errored: number;
  skipped: number;
  /** Sum of the cases' durations. */
  durationMs: number;
}

export interface TestCaseInfo {
  jobId: string;
  /** The report file it came from, relative to the workspace. */
  file: string;
  suite: string;
  classname: string;
  name: string;
  status: TestCaseStatus;
  durationMs?: number;
  /** Failed and errored cases: the failure's message (bounded). */
  message?: string;
  /** Failed and errored cases: failure text and the case's output (bounded; a note says when cut). */
  output?: string;
}

/** One report file of one job. */
export interface TestFileInfo extends TestTotals {
  jobId: string;
  file: string;
  /** Why the file gave no cases: `FILE:LINE:COL: reason` for malformed XML, or a size/link refusal. */
  problem?: string;
}

/** A test that failed and then passed on the same commit of the same branch, in the same job. */
export interface FlakyTest {
  /** The job's planned id (`test (node=20)`). */
  job: string;
  classname: string;
  name: string;
  sha: string;
  failedRunId: string;
  failedRunNumber: number;
  passedRunId: string;
  passedRunNumber: number;
  /** When the passing run's report was stored. */
  at: number;
}

export interface RunTestReport {
  totals: TestTotals;
  files: TestFileInfo[];
  /** Failed and errored cases, with message and output (at most 500). */
  failures: TestCaseInfo[];
  /** The slowest cases of the run (at most 10). */
  slowest: TestCaseInfo[];
  /** With a search: the cases whose name, class or suite contains it, failures first (at most 200). */
  matches?: TestCaseInfo[];
  /** Flaky tests of the run's branch (newest first, at most 50). */
  flaky: FlakyTest[];
}

/** Where a job spent its time. `steps` covers the job's steps (their own times are in the run's steps). */
export type TimingPhase = 'queued' | 'setting_up' | 'pulling' | 'steps' | 'after_steps' | 'kept_for_debug' | 'tearing_down';

export interface TimingSegment {
  phase: TimingPhase;
  start: number;
  /** Absent while the phase is still going. */
  end?: number;
}

export interface JobTiming {
  jobId: string;
  name: string;
  status: Status;
  segments: TimingSegment[];
  /** The job's steps on the same axis. */
  steps: Array<{ index: number; name: string; status: Status; start: number; end?: number }>;
}

export interface RunTiming {
  runId: string;
  createdAt: number;
  finishedAt?: number;
  jobs: JobTiming[];
}
