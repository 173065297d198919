/**
 * The step runner: the one seam between the step rules (job-steps.ts: `if:`, continue-on-error,
 * $KILN_ENV, masking, timeouts, cancellation) and whatever runs a step's processes (a Docker
 * container today; other engines, or a debug terminal into a job's environment, tomorrow).
 * The step rules know nothing but this interface, so they are unit-tested against a fake runner.
 *
 * Lifecycle of one job's runner (in the manner of Woodpecker's backend: setup → start step → tail
 * → wait → destroy):
 *
 *   setup → ( startStep → [signal]* → wait → [readEnvFile] [readSummaryFile] )* → destroy
 *
 * - setup: once, first. Brings up the job's environment (Docker: creates and starts the job
 *   container, pulling its image if needed, and fills its workspace). It rejects on trouble, and
 *   rejects when `signal` is aborted part-way; whatever it created by then is destroy's to remove.
 * - startStep: resolves once the step's processes are running; its output is streamed ("tail") to
 *   `onOutput` until the step ends. One step at a time: the next startStep only after the previous
 *   step's wait settled.
 * - StartedStep.signal: any time between startStep and destroy, concurrently with wait (it is how
 *   a timeout or a cancel stops a step). Reaches every process of the step. Never rejects: a step
 *   that already ended, or an engine that went away, is nothing to signal.
 * - StartedStep.wait: once per step. Resolves with the exit code after the output has ended (-1
 *   when `detach` stopped the wait first); rejects only for infrastructure trouble (the engine
 *   connection broke) — a failing step is an exit code, not a rejection.
 * - StartedStep.detach: stops waiting for output a step no longer produces meaningfully (a process
 *   that escaped the signals holds the stream open). Idempotent. What is left runs until destroy.
 * - readEnvFile: after a step's wait, the text the step wrote to its $KILN_ENV (or $KILN_OUTPUT) file (readSummaryFile
 *   likewise for its $KILN_SUMMARY file).
 * - A kept job's failed step (keep-on-failure, job-lifecycle.ts) may be started again, with the same
 *   index and environment, once its previous run's wait settled and before destroy: no other step
 *   starts in between.
 * - destroy: last. Idempotent and safe in every state: before setup, after a failed setup or a
 *   failed start, twice, or after a failed destroy (the caller retries it). It removes everything
 *   setup created, running processes included.
 *
 * Concurrency: the calls of one runner are sequential (each awaited before the next) except
 * StartedStep.signal and StartedStep.detach, which may be called while wait is pending.
 */

export type StepSignal = 'TERM' | 'KILL';

/** One step to start. */
export interface StepStart {
  /** The step's index in the job (locates its files, e.g. its $KILN_ENV file). */
  index: number;
  /** The user's script, run with `sh -e` in the workspace; it never becomes part of a command line. */
  script: string;
  /** The step's final environment, built-ins included. */
  env: Record<string, string>;
  /** The step's raw output, in order per stream, as it comes. */
  onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void;
}

export interface StartedStep {
  /** Sends `signal` to every process of the step. Never rejects. */
  signal(signal: StepSignal): Promise<void>;
  /** The exit code once the output has ended; -1 when detached first. Rejects on infrastructure trouble. */
  wait(): Promise<number>;
  /** Stops waiting for the output; wait then resolves. Idempotent. */
  detach(): void;
}

/** Where a step finds things, as paths inside the job's environment. */
export interface StepLocations {
  /** The job's workspace, also the working directory of every step ($KILN_WORKSPACE). */
  workspace: string;
  /** The file the step appends variables to for later steps ($KILN_ENV); empty when the step starts. */
  envFile: string;
  /** The Markdown file the step appends its summary to ($KILN_SUMMARY); absent when the runner keeps no summaries. */
  summaryFile?: string;
  /** The file the step appends its outputs to ($KILN_OUTPUT); empty when the step starts. */
  outputFile: string;
}

export interface StepRunner {
  /** Brings up the job's environment. Once, first. See the lifecycle above. */
  setup(signal: AbortSignal): Promise<void>;
  /** Where step `index` finds its workspace and $KILN_ENV file. Pure: callable in any state. */
  locations(index: number): StepLocations;
  startStep(step: StepStart): Promise<StartedStep>;
  /**
   * The $KILN_ENV text (or, with `file: 'output'`, the $KILN_OUTPUT text) of a step whose wait
   * settled ('' when it wrote nothing, or the file is missing); rejects when over `maxBytes`.
   */
  readEnvFile(step: { index: number; maxBytes: number; file?: 'env' | 'output' }): Promise<string>;
  /**
   * Optional (runners that give `summaryFile`): after a step's wait, the first `maxBytes` of what it
   * wrote to $KILN_SUMMARY, and how many bytes it wrote in all. Never reads more than `maxBytes`.
   */
  readSummaryFile?(step: { index: number; maxBytes: number }): Promise<{ text: string; bytes: number }>;
  /**
   * Optional: free and total bytes of the storage the job's environment writes to (Docker: the job
   * container's root filesystem, which lives on the engine's own storage), measured now; undefined
   * when it cannot be measured. Asked after a step said "No space left on device", to tell a full
   * engine from a step that filled a disk of its own (a tmpfs, a volume). Callable between steps.
   */
  storageSpace?(): Promise<StorageSpace | undefined>;
  /** Removes everything setup created. Idempotent; safe in every state. */
  destroy(): Promise<void>;
}

export interface StorageSpace {
  freeBytes: number;
  totalBytes: number;
}
