/**
 * Runs one step through a StepRunner and stops it on timeout or cancel.
 *
 * Interruption: whoever interrupts (the step timer, the job timer, a cancel) first records why —
 * that flag, not the exit code, decides the status, so a step that happens to exit 0 while being
 * timed out is still `timed_out`. Then SIGTERM goes to the step's processes, SIGKILL after
 * `killGraceMs`, and if the output still has not ended shortly after that (a process escaped the
 * signals and holds the stream), the executor stops waiting (detach); destroying the runner ends
 * whatever is left.
 */
import type { StepOutput } from './log-capture.js';
import type { StartedStep, StepRunner, StepSignal } from './step-runner.js';

export type Interruption = 'timed_out' | 'cancelled';

export interface StepRun {
  runner: StepRunner;
  index: number;
  script: string;
  /** Final environment of the step, built-ins included (KILN_ENV must be runner.locations(index).envFile). */
  env: Record<string, string>;
  timeoutMs?: number;
  killGraceMs: number;
  output: StepOutput;
  /** Aborted by the job (timeout or cancel); its `reason` is an Interruption. */
  jobSignal: AbortSignal;
  /** Kiln's own message about the step (signals sent), as a system line. */
  note(text: string): void;
  /**
   * Called once when the step's own timer interrupts it, before any signal is sent: the caller says
   * the timeout there, once (the signal notes that follow name no cause). A job's stop is said by the
   * job (job-lifecycle.ts), before it aborts `jobSignal`.
   */
  onStepTimeout?(): void;
}

export interface StepOutcome {
  status: 'passed' | 'failed' | Interruption;
  exitCode?: number;
  /** Set when the step was interrupted: by whom. */
  interruptedBy?: 'step-timeout' | 'job';
}

/** How long to keep reading after SIGKILL before giving up on the stream. */
export const AFTER_KILL_MS = 2000;

export async function runStep(run: StepRun): Promise<StepOutcome> {
  let interruption: { kind: Interruption; by: 'step-timeout' | 'job' } | undefined;
  const timers: NodeJS.Timeout[] = [];
  let started: StartedStep | undefined;

  const signalStep = (signal: StepSignal): void => {
    // Never rejects by contract; the catch keeps a broken runner from crashing the process.
    started?.signal(signal).catch(() => undefined);
  };
  const interrupt = (kind: Interruption, by: 'step-timeout' | 'job'): void => {
    if (interruption) return;
    interruption = { kind, by }; // recorded before any signal is sent
    if (by === 'step-timeout') run.onStepTimeout?.();
    run.note(`sending SIGTERM to the step's processes (SIGKILL in ${Math.round(run.killGraceMs / 1000)} s)`);
    signalStep('TERM');
    timers.push(
      setTimeout(() => {
        run.note('step still running after the grace period: sending SIGKILL');
        signalStep('KILL');
        timers.push(setTimeout(() => started?.detach(), AFTER_KILL_MS));
      }, run.killGraceMs),
    );
  };
  const onJobAbort = (): void => {
    const reason = run.jobSignal.reason as Interruption;
    interrupt(reason === 'timed_out' ? 'timed_out' : 'cancelled', 'job');
  };

  try {
    started = await run.runner.startStep({
      index: run.index,
      script: run.script,
      env: run.env,
      onOutput: (stream, chunk) => run.output.write(stream, chunk),
    });
    if (run.timeoutMs !== undefined && run.timeoutMs > 0) {
      timers.push(setTimeout(() => interrupt('timed_out', 'step-timeout'), run.timeoutMs));
    }
    if (run.jobSignal.aborted) onJobAbort();
    else run.jobSignal.addEventListener('abort', onJobAbort, { once: true });
    const exitCode = await started.wait();
    if (interruption) return { status: interruption.kind, exitCode: exitCode >= 0 ? exitCode : undefined, interruptedBy: interruption.by };
    return { status: exitCode === 0 ? 'passed' : 'failed', exitCode };
  } finally {
    run.jobSignal.removeEventListener('abort', onJobAbort);
    for (const t of timers) clearTimeout(t);
    run.output.end();
  }
}
