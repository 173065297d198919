/**
 * A strict, scripted StepRunner for unit tests of the step rules: no Docker, no processes.
 *
 * Each step's behaviour is given by index (or computed from what the step was started with, so a
 * test can echo an environment variable back). The fake enforces the lifecycle documented in
 * step-runner.ts: a call out of order is rejected (or throws) AND recorded in `violations`, because
 * the code under test may swallow a rejection (a failed signal is ignored by design). Tests call
 * `expectNoViolations()` at the end.
 *
 * Timing is real but short: a step's output is emitted on the next turns of the event loop after
 * startStep resolves, then it exits (after `runsForMs`, if given) unless it runs until signalled.
 */
import type { StartedStep, StepLocations, StepRunner, StepSignal, StepStart } from '../../src-main/executor/step-runner.js';

export interface FakeStep {
  /** Chunks written to stdout, in order (a string is one chunk). */
  stdout?: string | Array<string | Buffer>;
  stderr?: string | Array<string | Buffer>;
  /** Exit code when the step ends by itself. Default 0. */
  exitCode?: number;
  /** Ends by itself after this long (after its output). Default: at once. */
  runsForMs?: number;
  /** Never ends by itself: only a signal (or detach) ends it. */
  runsUntilSignalled?: boolean;
  /** On SIGTERM: the exit code it ends with (default 143), or 'ignore' (it keeps running). */
  onTerm?: number | 'ignore';
  /** On SIGKILL: ends with 137, unless 'escape' (a process left the group and holds the output open). */
  onKill?: 'escape';
  /** What the step wrote to its $KILN_ENV file. */
  envFile?: string;
  /** What the step wrote to its $KILN_OUTPUT file. */
  outputFile?: string;
  /** startStep rejects with this (the engine failed to start the step). */
  startError?: Error;
  /** wait rejects with this once the output ended (the engine connection broke). */
  waitError?: Error;
}

type Behaviour = FakeStep | ((step: StepStart) => FakeStep);

interface Current {
  index: number;
  behaviour: FakeStep;
  ended: boolean;
  waited: boolean;
  settled: boolean;
  finish(code: number): void;
}

export class FakeStepRunner implements StepRunner {
  /** Every call, in order: 'setup', 'start 0', 'signal 0 TERM', 'detach 0', 'wait 0', 'readEnvFile 0', 'destroy'. */
  readonly calls: string[] = [];
  /** What each step was started with, by index. */
  readonly started = new Map<number, StepStart>();
  /** Calls that broke the lifecycle. */
  readonly violations: string[] = [];
  private state: 'new' | 'ready' | 'destroyed' = 'new';
  private current: Current | undefined;
  private readonly waited = new Set<number>();

  constructor(private readonly steps: Record<number, Behaviour> = {}) {}

  /** Throws (test failure) when any call broke the lifecycle. */
  expectNoViolations(): void {
    if (this.violations.length > 0) throw new Error(`step runner used out of order:\n${this.violations.join('\n')}`);
  }

  async setup(signal: AbortSignal): Promise<void> {
    this.calls.push('setup');
    if (this.state !== 'new') this.violate(`setup while ${this.state}`);
    if (signal.aborted) throw new Error('setup aborted');
    this.state = 'ready';
  }

  locations(index: number): StepLocations {
    return { workspace: '/fake/workspace', envFile: `/fake/env-${index}`, outputFile: `/fake/output-${index}` };
  }

  async startStep(step: StepStart): Promise<StartedStep> {
    this.calls.push(`start ${step.index}`);
    if (this.state !== 'ready') this.violate(`startStep(${step.index}) while ${this.state}`);
    if (this.current && !this.current.settled) this.violate(`startStep(${step.index}) before step ${this.current.index}'s wait settled`);
    // Only the last step started may start again: a kept job's failed step re-run for debugging.
    if (this.started.has(step.index) && this.current?.index !== step.index) this.violate(`startStep(${step.index}) a second time, after another step`);
    this.started.set(step.index, step);
    const spec = this.steps[step.index];
    const behaviour: FakeStep = typeof spec === 'function' ? spec(step) : (spec ?? {});
    if (behaviour.startError) throw behaviour.startError;

    let resolveExit!: (code: number) => void;
    const exited = new Promise<number>((r) => (resolveExit = r));
    const current: Current = {
      index: step.index,
      behaviour,
      ended: false,
      waited: false,
      settled: false,
      finish: (code) => {
        if (current.ended) return;
        current.ended = true;
        resolveExit(code);
      },
    };
    this.current = current;
    void this.play(step, current);

    return {
      signal: async (signal) => this.signal(current, signal),
      wait: async () => {
        this.calls.push(`wait ${step.index}`);
        if (current.waited) this.violate(`wait on step ${step.index} a second time`);
        current.waited = true;
        try {
          const code = await exited;
          if (behaviour.waitError && code >= 0) throw behaviour.waitError;
          return code;
        } finally {
          current.settled = true;
          this.waited.add(step.index);
        }
      },
      detach: () => {
        this.calls.push(`detach ${step.index}`);
        current.finish(-1);
      },
    };
  }

  async readEnvFile(step: { index: number; maxBytes: number; file?: 'env' | 'output' }): Promise<string> {
    this.calls.push(`${step.file === 'output' ? 'readOutputFile' : 'readEnvFile'} ${step.index}`);
    if (this.state !== 'ready') this.violate(`readEnvFile(${step.index}) while ${this.state}`);
    if (!this.waited.has(step.index)) this.violate(`readEnvFile(${step.index}) before the step's wait settled`);
    const spec = this.steps[step.index];
    const started = this.started.get(step.index);
    const behaviour = typeof spec === 'function' ? (started ? spec(started) : {}) : (spec ?? {});
    const text = (step.file === 'output' ? behaviour.outputFile : behaviour.envFile) ?? '';
    if (Buffer.byteLength(text) > step.maxBytes) throw new Error(`file larger than ${step.maxBytes} bytes`);
    return text;
  }

  async destroy(): Promise<void> {
    this.calls.push('destroy');
    this.current?.finish(-1);
    this.state = 'destroyed';
  }

  private async signal(current: Current, signal: StepSignal): Promise<void> {
    this.calls.push(`signal ${current.index} ${signal}`);
    if (this.state !== 'ready') this.violate(`signal to step ${current.index} while ${this.state}`);
    if (current.ended) return; // nothing left to signal: not an error
    const b = current.behaviour;
    if (signal === 'TERM' && b.onTerm !== 'ignore') current.finish(b.onTerm ?? 143);
    if (signal === 'KILL' && b.onKill !== 'escape') current.finish(137);
  }

  private async play(step: StepStart, current: Current): Promise<void> {
    const b = current.behaviour;
    const chunks = (v: string | Array<string | Buffer> | undefined): Buffer[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((c) => Buffer.from(c)));
    const out = [...chunks(b.stdout).map((c) => ['stdout', c] as const), ...chunks(b.stderr).map((c) => ['stderr', c] as const)];
    for (const [stream, chunk] of out) {
      await new Promise((r) => setImmediate(r));
      if (current.ended) return;
      step.onOutput(stream, chunk);
    }
    if (b.runsUntilSignalled) return;
    await new Promise((r) => setTimeout(r, b.runsForMs ?? 0));
    current.finish(b.exitCode ?? 0);
  }

  private violate(what: string): never {
    this.violations.push(what);
    throw new Error(`FakeStepRunner: ${what}`);
  }
}
