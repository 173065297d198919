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
import type { PlannedJob } from '../../shared/model/plan.js';
import type { Status } from '../../shared/model/status.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';

/** Where the job's workspace comes from. */
export type WorkspaceSource =
  /** A git repository (local path, file://, https or ssh URL) checked out at exactly `sha`. */
  | { kind: 'git'; url: string; sha: string; credentials?: { username?: string; password?: string; sshKeyFile?: string } }
  /** A plain directory copied as is (e.g. `kiln run` on a working tree). */
  | { kind: 'dir'; path: string };

/** A running job container, as hooks (cache, artifacts) see it. Paths are container paths. */
export interface JobContainer {
  readonly workspace: string;
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
  hooks?: JobHooks;
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
}

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
