/**
 * What the engine needs from the pipeline compiler, the git checkout and the executor, as narrow
 * interfaces: the engine depends on these shapes, the composition (defaultPorts) on the modules.
 * Tests and benchmarks may pass their own executor; nothing else is meant to be swapped.
 */
import type { Diagnostic } from '../../shared/diagnostics.js';
import type { ChangeSet } from '../../shared/model/change-set.js';
import type { Plan } from '../../shared/model/plan.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import type { JobResult, JobRunRequest, ReapCounts } from './job-contract.js';

export interface GitSource {
  url: string;
  credentials?: { username?: string; password?: string; sshKeyFile?: string };
}

/**
 * The pipeline compiler's three stages. `P` is the compiled pipeline (the engine uses
 * pipeline/pipeline-model.ts's `Pipeline`), produced by parsePipeline and read only by the other two.
 */
export interface PipelinePort<P> {
  /** `included`: the texts of the files `include:` names (readIncludes), by repository path. */
  parsePipeline(text: string, file: string, included?: ReadonlyMap<string, string | undefined>): { pipeline?: P; diagnostics: Diagnostic[] };
  /** `changes` absent: path filters let the event through (everything changed). */
  matchesTrigger(pipeline: P, event: TriggerEvent, changes?: ChangeSet): boolean;
  planPipeline(pipeline: P, event: TriggerEvent, options: { env?: Record<string, string>; changes?: ChangeSet }): { plan?: Plan; diagnostics: Diagnostic[] };
  /** Whether matching or planning this event looks at the changed files (path filters, changed()). */
  needsChangedFiles?(pipeline: P, event: TriggerEvent): boolean;
  /** Every file the pipeline text includes, directly or not, read with `read`. */
  readIncludes?(text: string, read: (path: string) => Promise<string | undefined>): Promise<Map<string, string | undefined>>;
}

export interface CheckoutPort {
  readFileAtCommit(source: GitSource, sha: string, path: string, mirrorsDir: string): Promise<string | undefined>;
  resolveCommit(source: GitSource, ref: string, mirrorsDir: string): Promise<string>;
  /** The files the event changed (its commit is in the mirror); never rejects. Absent: everything changed. */
  changedFiles?(source: GitSource, mirrorsDir: string, event: TriggerEvent, options: { defaultBranch: string; maxFiles?: number }): Promise<ChangeSet>;
}

/** The executor as the engine uses it (DockerExecutor implements it). */
export interface JobExecutor {
  runJob(request: JobRunRequest): Promise<JobResult>;
  /** Removes containers/networks/volumes of jobs for which isJobLive returns false. */
  reapOrphans(isJobLive: (runId: string, jobId: string) => boolean): Promise<ReapCounts>;
  /** Whether Docker answers, and why not when it does not; may also reject. */
  ping(): Promise<{ ok: boolean; message?: string; engine?: string; tried?: string[] }>;
}
