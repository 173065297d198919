/**
 * A JobExecutor for tests that runs no container. A step's `run` text names a program the test
 * gave the executor (`run: say-hello` → programs['say-hello']): the program prints lines, waits
 * until the test releases its run, leaves files in the workspace, writes to $KILN_ENV, and returns
 * the step's exit code.
 *
 * Everything around the programs is DockerExecutor's own code, so the engine cannot tell the
 * difference: the job lifecycle (src-main/executor/job-lifecycle.ts: job timer, cancel, hooks,
 * final step statuses, error sentences) and the step rules (job-steps.ts: `if:`, continue-on-error,
 * $KILN_ENV, masking, timeouts and their SIGTERM/SIGKILL notes) drive a ProgramStepRunner
 * (./program-step-runner.ts) where DockerExecutor drives a DockerStepRunner. The workspace is a real
 * checkout in a temp directory; hooks (caches, artifacts) see it through a JobContainer whose
 * archive calls are real tar streams. A checkout that fails is `infrastructure: true`.
 * Not modelled: service containers (job.services are not started) and commands run by hooks
 * (JobContainer.exec rejects) — tests of those use Docker.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobExecutor } from '../../src-main/core/ports.js';
import { CheckoutError } from '../../src-main/git/checkout.js';
import type { JobResult, JobRunRequest, ReapCounts } from '../../src-main/core/job-contract.js';
import { runJobLifecycle } from '../../src-main/executor/job-lifecycle.js';
import { DEFAULT_GATE, ProgramStepRunner, type RunGates, type StepProgram } from './program-step-runner.js';

export type { StepIo, StepProgram } from './program-step-runner.js';

/** Prints `lines` to stdout and exits with 0. */
export const prints = (...lines: string[]): StepProgram => (io) => {
  for (const l of lines) io.out(l);
  return 0;
};

/** Prints `lines` to stdout and exits with `code`. */
export const exits = (code: number, ...lines: string[]): StepProgram => (io) => {
  for (const l of lines) io.out(l);
  return code;
};

/** Prints `before`, waits until the run is released, prints `after`. */
export const held = (before: string[] = [], after: string[] = []): StepProgram => async (io) => {
  for (const l of before) io.out(l);
  await io.released();
  if (io.signal.aborted) return 143;
  for (const l of after) io.out(l);
  return 0;
};

const gateKey = (runId: string, gate: string): string => `${runId}\0${gate}`;

export class FakeExecutor implements JobExecutor {
  /** Programs by the `run` text that names them (trimmed). Tests may add to it at any time. */
  readonly programs: Map<string, StepProgram>;
  /** Every request runJob received, in order. */
  readonly requests: JobRunRequest[] = [];
  /** What ping() answers; a test may make "Docker" unreachable. */
  pingAnswer: { ok: boolean; message?: string } = { ok: true };
  private readonly root: string;
  private readonly mirrorsDir: string;
  /** Between SIGTERM and SIGKILL when a step is stopped (a program that ignores its signal is killed then). */
  private readonly killGraceMs: number;
  private readonly openGates = new Set<string>();
  private readonly waiting = new Map<string, Array<() => void>>();

  /**
   * `mirrorsDir`: where git mirrors are kept; give the engine's (<dataDir>/mirrors), as the engine
   * does for DockerExecutor, so a job's checkout reuses the mirror its run was planned from.
   */
  constructor(programs: Record<string, StepProgram> = {}, options: { root?: string; mirrorsDir?: string; killGraceMs?: number } = {}) {
    this.programs = new Map(Object.entries(programs));
    this.killGraceMs = options.killGraceMs ?? 10_000;
    this.root = options.root ?? mkdtempSync(join(tmpdir(), 'kiln-fake-executor-'));
    this.mirrorsDir = options.mirrorsDir ?? join(this.root, 'mirrors');
    mkdirSync(this.root, { recursive: true });
  }

  /** Lets the programs of `runId` that wait at `gate` (io.released) go on, now and later. */
  release(runId: string, gate = DEFAULT_GATE): void {
    const key = gateKey(runId, gate);
    this.openGates.add(key);
    for (const resume of this.waiting.get(key) ?? []) resume();
    this.waiting.delete(key);
  }

  async ping(): Promise<{ ok: boolean; message?: string }> {
    return this.pingAnswer;
  }

  /** Nothing outlives runJob here (the job's directory goes in its teardown). */
  async reapOrphans(): Promise<ReapCounts> {
    return { containers: 0, networks: 0, volumes: 0 };
  }

  /** Removes the executor's mirrors and any job directory a crashed test left. */
  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  runJob(request: JobRunRequest): Promise<JobResult> {
    this.requests.push(request);
    let runner: ProgramStepRunner | undefined;
    return runJobLifecycle(
      request,
      {
        bringUp: async ({ signal, say, setPhase }) => {
          setPhase('preparing the workspace');
          const { source } = request;
          runner = new ProgramStepRunner({ programs: this.programs, root: this.root, source, mirrorsDir: this.mirrorsDir, gates: this.gates(request.runId), say });
          await runner.setup(signal);
          return { runner, container: runner.jobContainer };
        },
        teardown: async () => runner?.destroy(),
        // DockerExecutor's wording, with this executor in Docker's place.
        describeError: (err, phase) => ({
          message: err instanceof CheckoutError ? err.message : `fake executor error while ${phase}: ${(err as Error).message}`,
          infrastructure: true,
        }),
      },
      { killGraceMs: this.killGraceMs, maxStepOutputBytes: 10 * 1024 * 1024 },
    );
  }

  private gates(runId: string): RunGates {
    return {
      isOpen: (gate) => this.openGates.has(gateKey(runId, gate)),
      opened: (gate) => {
        const key = gateKey(runId, gate);
        if (this.openGates.has(key)) return Promise.resolve();
        return new Promise<void>((resolve) => {
          const list = this.waiting.get(key) ?? [];
          list.push(resolve);
          this.waiting.set(key, list);
        });
      },
    };
  }
}
