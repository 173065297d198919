/**
 * The validated pipeline: `.kiln.yml` after schema and semantic checks, before any event is applied.
 * Strings are still templates (`${VAR}`, `${{ expr }}`); planPipeline renders them per event and
 * matrix combination. Keys are kept in file order.
 */
import type { ArtifactWhen } from '../../shared/model/plan.js';
import type { Priority } from '../../shared/model/status.js';
import type { Path, Position } from './yaml-source.js';

export interface BranchFilter {
  /** Glob patterns; absent = any. A pattern starting with `!` excludes (last match wins). */
  branches?: string[];
  tags?: string[];
  /** Changed-file filters (path-filter.ts); at most one of the two. */
  paths?: string[];
  pathsIgnore?: string[];
}

export interface Triggers {
  push?: BranchFilter;
  pullRequest?: { branches?: string[]; paths?: string[]; pathsIgnore?: string[] };
  /** Manual runs allowed: true unless the file says `manual: false`. */
  manual: boolean;
  /** `on.schedule`: cron times (flow.ts); absent when the pipeline has none. */
  schedule?: ScheduleSpec[];
}

export interface ScheduleSpec {
  /** Five fields: minute hour day-of-month month day-of-week. */
  cron: string;
  /** IANA zone; absent = the workstation's local time zone. */
  timezone?: string;
  /** Branches to run on; absent = the repository's default branch. */
  branches?: string[];
}

export interface PipelineService {
  key: string;
  image: string;
  env: Record<string, string>;
  ports: string[];
  command?: string[];
}

export interface PipelineStep {
  /** `id:`, which `steps.<id>.outputs.<name>` refers to. */
  id?: string;
  name: string;
  run: string;
  /** Condition source; '' means the default `success()`. */
  if: string;
  env: Record<string, string>;
  continueOnError: boolean;
  timeoutMs?: number;
}

export interface PipelineJob {
  key: string;
  /** `name:` as written (may hold expressions), or undefined → the key. */
  name?: string;
  stage?: string;
  image: string;
  /** Explicit `needs` (job keys); undefined when not written (then the stage rule applies). */
  needs?: string[];
  /** Resolved dependencies on job keys: explicit needs, or every job of the previous stage. */
  dependsOn: string[];
  if?: string;
  timeoutMs: number;
  /** Engine labels the job needs (`runs-on:`); empty: any engine. */
  runsOn: string[];
  secrets: string[];
  env: Record<string, string>;
  /** The matrix definition as written (variables, include, exclude); undefined when none. */
  matrix?: Record<string, unknown>;
  services: PipelineService[];
  cache?: { key: string; restoreKeys: string[]; paths: string[] };
  artifacts?: { paths: string[]; when: ArtifactWhen; expireInMs?: number };
  /** Test report globs (JUnit XML), read after the steps whatever their outcome. */
  reports?: { junit: string[] };
  steps: PipelineStep[];
  /** `outputs:` name → template (usually `${{ steps.<id>.outputs.<name> }}`), rendered after the steps. */
  outputs?: Record<string, string>;
  /** `when: manual`: the job waits for approval; it is rejected when nobody decides within timeoutMs. */
  manual?: { timeoutMs: number };
}

export interface Pipeline {
  file: string;
  name: string;
  on: Triggers;
  priority: Priority;
  concurrency?: { group: string; cancelInProgress: boolean };
  env: Record<string, string>;
  stages: string[];
  /** In topological order of `dependsOn` (file order among independent jobs). */
  jobs: PipelineJob[];
  /** Position of a field in the file, e.g. ['jobs', 'deploy', 'image'] — for plan-time diagnostics. */
  positionOf(path: Path): Position;
}
