import type { Diagnostic } from '../diagnostics.js';
import type { Priority } from './status.js';
import type { RunChanges } from './change-set.js';

/**
 * The executable plan: what the executor sees. It never sees YAML.
 * Produced by src-main/pipeline/plan.ts from a parsed pipeline and a TriggerEvent.
 */
export type MatrixValue = string | number | boolean;

export interface PlannedStep {
  index: number;
  /** `id:`: its $KILN_OUTPUT lines become `steps.<id>.outputs.<name>`. */
  id?: string;
  name: string;
  /** The script exactly as written, except `${{ expr }}` replaced by `${KILN_EXPR_n}` references. */
  run: string;
  /** Step env plus the KILN_EXPR_n values; passed to the shell, never spliced into `run`. */
  env: Record<string, string>;
  /** Condition source evaluated at run time; default `success()`. */
  if: string;
  continueOnError: boolean;
  timeoutMs?: number;
}

export interface PlannedService {
  /** The key under `services:`; also the hostname on the job network. */
  key: string;
  image: string;
  env: Record<string, string>;
  ports: string[];
  command?: string[];
}

export interface PlannedCache {
  /** May still contain `${{ hashFiles(...) }}`: rendered against the checked-out workspace. */
  key: string;
  restoreKeys: string[];
  paths: string[];
}

export type ArtifactWhen = 'on_success' | 'on_failure' | 'always';

export interface PlannedArtifacts {
  paths: string[];
  when: ArtifactWhen;
  expireInMs?: number;
}

export interface PlannedJob {
  /** Unique in the plan: the job key, or `key (a=1, b=2)` for a matrix instance. */
  id: string;
  /** The key under `jobs:`. */
  key: string;
  /** Display name: `name:` or the key, with matrix values: `test (node=20, os=bookworm)`. */
  name: string;
  stage?: string;
  matrix: Record<string, MatrixValue>;
  image: string;
  /** Planned job ids this job waits for. */
  needs: string[];
  /** Decided at plan time by the job's `if:` (or because a need is skipped). Kept in the plan. */
  skipped: boolean;
  skipReason?: string;
  /** Job condition source, kept for the record; already evaluated. */
  if?: string;
  /** Pipeline env + job env (substituted) + built-ins known at plan time. */
  env: Record<string, string>;
  /** Names of secrets to inject (values come from configuration at run time). */
  secrets: string[];
  timeoutMs: number;
  /** Engine labels the job needs (`runs-on:`); absent: any engine. */
  runsOn?: string[];
  services: PlannedService[];
  cache?: PlannedCache;
  artifacts?: PlannedArtifacts;
  /** Test report globs (JUnit XML), workspace-relative, rendered; collected after the steps. */
  reports?: { junit: string[] };
  steps: PlannedStep[];
  /** `outputs:` name → template over `steps.<id>.outputs.<name>`, rendered when the steps are done. */
  outputs?: Record<string, string>;
  /**
   * True when `env` or a step's env still holds `${{ needs.… }}` templates: they are rendered with
   * the needs' outputs just before the job runs (their values exist only then).
   */
  readsNeedsOutputs?: boolean;
  /** `when: manual`: waits for approval once its needs are done; expires after timeoutMs. */
  manual?: { timeoutMs: number };
}

export interface Plan {
  pipeline: string;
  priority: Priority;
  concurrency?: { group: string; cancelInProgress: boolean };
  /** Jobs in topological order. */
  jobs: PlannedJob[];
  /** Warnings (e.g. a large matrix); a plan with errors is never produced. */
  warnings: Diagnostic[];
  /** The changed files path filters and changed() saw; absent when the pipeline looks at none. */
  changes?: RunChanges;
}
