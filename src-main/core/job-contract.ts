/**
 * The contract between the scheduler (queue/worker pool, `kiln run`) and the executor.
 *
 * Call order for one job: runJob(request) → (checkout → services → hooks.beforeSteps → steps →
 * hooks.afterSteps → teardown). runJob never rejects for a job's own failure: a failing step, a
 * timeout or a cancel is a JobResult. It rejects only when the caller broke the contract.
 * Infrastructure errors (Docker unreachable, image not pullable) are results with status 'failed'
 * and `infrastructure: true`, so they read differently from a red build. Teardown always runs.
 */
import type { Readable } from 'node:stream';
import type { LogEntry, LogLine, StepSummary } from '../../shared/model/run.js';
import type { Annotation, LogGroup, StepMarkdownSummary } from '../../shared/model/job-records.js';
import type { PlannedJob } from '../../shared/model/plan.js';
import type { Status } from '../../shared/model/status.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';

/**
 * The abort reason of a job stopped because Kiln itself is stopping: the job is handed back to the
 * queue (its attempt not counted) and starts again when Kiln starts. Not the user's cancel, so the
 * lifecycle says so in those words and records no "cancelled" annotation.
 */
export const SHUTDOWN_REASON = 'kiln-shutdown';

/**
 * Where a job's time goes, in order: bringing its environment up (pulling the image, when it is
 * missing, is its own phase inside), the steps (restoring caches and artifacts counts as set-up),
 * the work after them (reports, caches, artifacts), the time a failed job was kept up for debugging
 * (from when the hold starts), teardown; 'done' marks the end.
 */
export type JobPhaseMark = 'setting_up' | 'pulling' | 'steps' | 'after_steps' | 'kept_for_debug' | 'tearing_down' | 'done';

/** Where the job's workspace comes from. */
export type WorkspaceSource =
  /** A git repository (local path, file://, https or ssh URL) checked out at exactly `sha`. */
  | { kind: 'git'; url: string; sha: string; credentials?: { username?: string; password?: string; sshKeyFile?: string } }
  /** A plain directory copied as is (e.g. `kiln run` on a working tree). */
  | { kind: 'dir'; path: string };

/** A running job container, as hooks (cache, artifacts) see it. Paths are container paths. */
export interface JobContainer {
  readonly workspace: string;
  /** The container's engine id, when the backend has one (a debug terminal execs into it). */
  readonly id?: string;
  /** Runs argv (no shell unless argv says so) and resolves with its exit code. */
  exec(argv: string[], options?: { env?: Record<string, string>; workdir?: string; onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void }): Promise<{ exitCode: number }>;
  /** Extracts a tar stream into `dir` (created if missing). */
  putArchive(dir: string, tar: Readable): Promise<void>;
  /** A tar stream of `path` (file or directory). Rejects when the path does not exist. */
  getArchive(path: string): Promise<Readable>;
}

/** Job-level work around the steps: caches and artifacts. Errors are logged, and fail the job. */
export interface JobHooks {
  beforeSteps?(container: JobContainer, log: (text: string) => void): Promise<void>;
  /** Runs after the steps unless the job was cancelled; `status` is the outcome of the steps. */
  afterSteps?(container: JobContainer, status: Status, log: (text: string) => void): Promise<void>;
}

export interface JobRunRequest {
  runId: string;
  jobId: string;
  job: PlannedJob;
  event: TriggerEvent;
  source: WorkspaceSource;
  /** Secret values by name; only those named in job.secrets are injected, all are masked. */
  secrets: Record<string, string>;
  /** Aborting cancels the job: SIGTERM to the running step, SIGKILL after the grace period. */
  signal: AbortSignal;
  /** The seq the job's log gives its next line when the job starts (a retry continues the log). Default 0. */
  logOffset?: number;
  /**
   * Every log line, already masked, in order. The job's log numbers lines, not the executor: return
   * the line with the seq it got (step offsets follow it), or nothing when no log numbers them.
   */
  onLog(line: LogEntry): LogLine | void;
  /** A step changed status (started, finished, skipped). */
  onStep?(step: StepSummary): void;
  /** What the job produced besides lines: groups, annotations, summaries (see JobRecord). */
  onRecord?(record: JobRecord): void;
  /** The job entered a phase (for the timing view); a phase lasts until the next one, 'done' ends the last. */
  onPhase?(phase: JobPhaseMark): void;
  hooks?: JobHooks;
  /** Keep-on-failure (debugging a failed job where it failed); absent: a failed job is torn down at once. */
  debug?: JobDebug;
}

/** A failed job kept up for debugging: what a terminal into it, or a re-run of its failed step, needs. */
export interface KeptJob {
  /** The job container's engine id (absent for a backend without containers). */
  containerId?: string;
  /** The kiln.job label of the job's containers and network: the stored job's id. */
  jobKey: string;
  workspace: string;
  /** A file in the container: the failing step's environment as `export K='v'` lines, read by the debug shell. */
  envFile: string;
  step: { index: number; name: string };
  /**
   * Runs the failed step's script again in the same container and environment; its output joins the
   * job's log (masked like any step's). Resolves with its exit code; rejects while another re-run is going.
   */
  rerunStep(): Promise<number>;
}

/**
 * Keep-on-failure for one job. Call order: after a step failed (and after hooks.afterSteps),
 * keepsFailure() → hold(kept) → teardown unless hold answered 'leave'. The job timer no longer
 * runs while held; the job's result (failed) is returned once hold settles.
 */
export interface JobDebug {
  /** Whether this job's failure is kept; asked once, when a step has failed. */
  keepsFailure(): boolean;
  /**
   * Holds the failed job until released (deadline, the user, `signal`). 'remove': teardown follows;
   * 'leave': the container stays for a later process to adopt (the engine is stopping). Never rejects.
   */
  hold(kept: KeptJob, signal: AbortSignal): Promise<'remove' | 'leave'>;
}

export interface JobResult {
  status: Status;
  steps: StepSummary[];
  /** A human sentence for failed/timed_out/cancelled jobs: which step, what happened. */
  error?: string;
  /** True when Docker or the checkout failed rather than the user's steps. */
  infrastructure?: boolean;
  /**
   * True when the job's engine stopped, restarted or became unreachable under it (its container was
   * killed or lost): not the job's failure. The worker pool re-queues such a job within the attempt limit.
   */
  engineLost?: boolean;
  /** The seq the job's log gives its next line. */
  logOffset: number;
  /** The job's `outputs:`, rendered from its steps' $KILN_OUTPUT (secrets masked); absent when it declares none. */
  outputs?: Record<string, string>;
}

/**
 * What a job produced besides its log lines, in the order it happened. A group is reported when it
 * opens (`end` null) and again when it closes, keyed by its `start`; the others once each. Only
 * jobs whose log numbers lines (the engine's) get groups and line-linked annotations.
 */
export type JobRecord =
  | { kind: 'group'; group: LogGroup }
  | { kind: 'annotation'; annotation: Omit<Annotation, 'jobId'> }
  | { kind: 'summary'; summary: Omit<StepMarkdownSummary, 'jobId'> };

/** Executor options with their defaults. */
export interface ExecutorOptions {
  /** A step's output over this many bytes is truncated with a warning line. Default 10 MiB. */
  maxStepOutputBytes?: number;
  /** Between SIGTERM and SIGKILL on timeout or cancel. Default 10 000 ms. */
  killGraceMs?: number;
  /** Labels every container/network/volume with kiln.instance=<id>. */
  instanceId: string;
  /** Host directory for git mirrors. */
  mirrorsDir: string;
}

/** What one reaper pass removed. */
export interface ReapCounts {
  containers: number;
  networks: number;
  volumes: number;
}
