import type { Priority, Status } from './status.js';
import type { EventKind } from './trigger-event.js';
import type { MatrixValue } from './plan.js';

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
