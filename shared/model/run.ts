import type { Priority, Status } from './status.js';
import type { EventKind } from './trigger-event.js';
import type { MatrixValue } from './plan.js';
import type { RunChanges } from './change-set.js';

/** A run as lists show it. Times are epoch milliseconds. */
export interface RunSummary {
  id: string;
  number: number;
  repo: string;
  pipeline: string;
  event: EventKind;
  branch?: string;
  tag?: string;
  sha: string;
  commitMessage?: string;
  commitAuthor?: string;
  prNumber?: number;
  prTitle?: string;
  triggeredBy?: string;
  priority: Priority;
  status: Status;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  /** Why the run failed before any job ran (bad pipeline file, checkout failure, …). */
  error?: string;
  /**
   * Why a queued run has not started yet (not stored; from the engine's state now): "waiting: 1.1 GB
   * free, Kiln needs 2.0 GB", or "waiting for a slot: acme/web is at its per-repository limit (1): 1 job
   * kept for debug"; absent when nothing says.
   */
  waiting?: string;
  /** Optional: jobs of the run waiting for someone to approve them (`when: manual`); absent when none. */
  waitingForApproval?: number;
  /** Optional: for a run started by `on.schedule`, the time it was due and what it says about missed times. */
  schedule?: { slot: number; missed: number; note: string };
}

export interface StepSummary {
  index: number;
  name: string;
  status: Status;
  exitCode?: number;
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  /** First log sequence number of this step, for "jump to step". */
  logOffset?: number;
}

export interface JobSummary {
  id: string;
  runId: string;
  /** Planned job id, unique within the run. */
  planId: string;
  name: string;
  stage?: string;
  matrix: Record<string, MatrixValue>;
  image: string;
  needs: string[];
  status: Status;
  attempt: number;
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  error?: string;
  steps: StepSummary[];
  /** The Docker engine that runs or ran the job (its last attempt). */
  engine?: string;
  /** Optional: a `when: manual` job's approval, once it waits (or was decided). */
  approval?: JobApproval;
}

export interface JobApproval {
  state: 'waiting' | 'approved' | 'rejected' | 'expired';
  requestedAt: number;
  /** When a waiting job is rejected on its own. */
  expiresAt: number;
  decidedBy?: string;
  decidedAt?: number;
}

/** A schedule (`on.schedule`) of a repository's pipeline on its default branch, as the dashboard lists it. */
export interface ScheduleInfo {
  repo: string;
  pipeline: string;
  cron: string;
  /** The IANA zone it is read in. */
  timezone: string;
  /** True when the pipeline names no zone (the workstation's local zone is used). */
  localTimezone: boolean;
  /** Branches it runs on (the default branch unless the pipeline lists some). */
  branches: string[];
  nextAt?: number;
  /** The latest scheduled time that has run (or the time Kiln first saw the schedule). */
  lastSlot?: number;
}

export interface DagEdge {
  /** Job ids (not plan ids). */
  from: string;
  to: string;
}

export interface RunDetail extends RunSummary {
  jobs: JobSummary[];
  edges: DagEdge[];
  stages: string[];
  /** The changed files path filters and changed() saw (recorded with the plan); absent when the pipeline looks at none. */
  changes?: RunChanges;
}

export type LogStream = 'stdout' | 'stderr' | 'system';

/** One line of a job's log. `seq` is the line's offset in the job log, from 0, without gaps. */
export interface LogLine {
  seq: number;
  ts: number;
  stream: LogStream;
  /** Step index, or null for job-level lines (checkout, services, cache). */
  step: number | null;
  text: string;
}

/** A line before the log numbers it: what the executor writes. Only the log store assigns `seq`. */
export type LogEntry = Omit<LogLine, 'seq'>;

export interface ArtifactInfo {
  id: string;
  runId: string;
  jobId: string;
  path: string;
  size: number;
  sha256: string;
  createdAt: number;
  expiresAt?: number;
}

export interface DeliveryRecord {
  id: string;
  deliveryId: string;
  event: string;
  repo?: string;
  receivedAt: number;
  outcome: 'accepted' | 'ignored' | 'rejected';
  httpStatus: number;
  reason: string;
  runIds: string[];
}

export interface StorageMetrics {
  artifactBytes: number;
  artifactCount: number;
  cacheBytes: number;
  cacheEntries: number;
  cacheHits: number;
  cacheMisses: number;
  cacheHitRate: number;
  workspaceBytes: number;
  logBytes: number;
  diskFreeBytes: number;
  diskTotalBytes: number;
}

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` to get the next page; absent on the last page. */
  nextCursor?: string;
}
