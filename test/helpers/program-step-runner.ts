/**
 * The fake executor's StepRunner (src-main/executor/step-runner.ts): a step's script names a
 * program, a function the test gave the executor, and the "job environment" is a temp directory on
 * the host. The real step rules (job-steps.ts) and job lifecycle (job-lifecycle.ts) drive it exactly
 * as they drive DockerStepRunner, so only what a container does is modelled here:
 *
 * - setup: a real checkout of the commit (the engine's own git mirror code), or a copy of a plain
 *   directory, into `<dir>/workspace`, which stands for the container's /workspace.
 * - startStep: empties the step's $KILN_ENV file (as the Docker step wrapper does) and starts the
 *   program named by the script (trimmed); its io.out/io.err lines stream to onOutput. A script that
 *   names no program fails with exit code 127 and `sh`'s "not found" on stderr.
 * - signal: TERM aborts the program's io.signal (a program that honours it returns, e.g. 143); KILL
 *   ends the step with 137 whatever the program does, as SIGKILL cannot be ignored.
 * - wait: the program's return value (1 when it throws, its message on stderr); detach ends it with -1.
 * - readEnvFile: the step's $KILN_ENV file, `<dir>/kiln/env-<index>` beside the workspace (as
 *   /kiln is beside /workspace in the container), so programs hand variables on by writing to
 *   io.env.KILN_ENV.
 * - destroy: stops a program still running and removes the directory; idempotent.
 * Paths in a step's environment (KILN_WORKSPACE, KILN_ENV) are host paths: the programs run on the host.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, posix, relative } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import type { JobContainer, WorkspaceSource } from '../../src-main/core/job-contract.js';
import { archiveCommit, redactUrl } from '../../src-main/git/checkout.js';
import type { StartedStep, StepLocations, StepRunner, StepSignal, StepStart } from '../../src-main/executor/step-runner.js';
import { WORKSPACE } from '../../src-main/executor/step-script.js';

/** What a program sees of its step. */
export interface StepIo {
  /** A chunk of stdout/stderr; a line ends at '\n' (out/err add it). */
  out(text: string): void;
  err(text: string): void;
  /** The step's environment as the step rules built it: built-ins, job env, secrets, $KILN_ENV of earlier steps, step env. */
  env: Record<string, string>;
  /** The host directory that stands for the container's /workspace (also env.KILN_WORKSPACE). */
  workspace: string;
  /** Aborted when the step is signalled (a step or job timeout, a cancel); the program should return. */
  signal: AbortSignal;
  /** Resolves once the test has released this step's run at `gate` (FakeExecutor.release), or on abort. */
  released(gate?: string): Promise<void>;
  isReleased(gate?: string): boolean;
  /** Waits `ms` (less when aborted). */
  sleep(ms: number): Promise<void>;
}

/** A step's behaviour: returns its exit code. A program that throws fails the step with 1. */
export type StepProgram = (io: StepIo) => number | Promise<number>;

/** The test's gates for one run (see FakeExecutor.release). */
export interface RunGates {
  isOpen(gate: string): boolean;
  /** Resolves when `gate` opens (at once when it is open). */
  opened(gate: string): Promise<void>;
}

export const DEFAULT_GATE = 'go';

export interface ProgramStepRunnerOptions {
  programs: ReadonlyMap<string, StepProgram>;
  /** The directory under which the job's own directory is made. */
  root: string;
  source: WorkspaceSource;
  mirrorsDir: string;
  gates: RunGates;
  /** Progress lines (checkout) for the job log. */
  say(text: string): void;
}

export class ProgramStepRunner implements StepRunner {
  /** The job's directory: chosen now, made by setup, removed by destroy. */
  private readonly dir: string;
  private state: 'new' | 'ready' | 'destroyed' = 'new';
  /** Stops the program of the step that runs now. */
  private stopCurrent: (() => void) | undefined;

  constructor(private readonly options: ProgramStepRunnerOptions) {
    this.dir = join(options.root, `job-${randomBytes(6).toString('hex')}`);
  }

  /** The workspace as hooks (caches, artifacts) see a job container. After setup only. */
  get jobContainer(): JobContainer {
    if (this.state !== 'ready') throw new Error(`ProgramStepRunner: the job container asked for while ${this.state}`);
    return new FakeJobContainer(this.workspace, join(this.dir, 'kiln'));
  }

  private get workspace(): string {
    // Named like the container's directory: archives of it name their entries workspace/….
    return join(this.dir, basename(WORKSPACE));
  }

  async setup(signal: AbortSignal): Promise<void> {
    if (this.state !== 'new') throw new Error(`ProgramStepRunner.setup: called while ${this.state}`);
    mkdirSync(this.workspace, { recursive: true });
    mkdirSync(join(this.dir, 'kiln'));
    await this.checkout();
    if (signal.aborted) throw new Error('stopped while preparing the workspace');
    this.state = 'ready';
  }

  locations(index: number): StepLocations {
    return { workspace: this.workspace, envFile: join(this.dir, 'kiln', `env-${index}`), outputFile: join(this.dir, 'kiln', `output-${index}`) };
  }

  async startStep(step: StepStart): Promise<StartedStep> {
    if (this.state !== 'ready') throw new Error(`ProgramStepRunner.startStep: called while ${this.state}`);
    writeFileSync(this.locations(step.index).envFile, '');
    writeFileSync(this.locations(step.index).outputFile, '');
    const name = step.script.trim();
    const program = this.options.programs.get(name);
    let ended = false;
    let settle!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (settle = resolve));
    const finish = (code: number): void => {
      if (ended) return;
      ended = true;
      this.stopCurrent = undefined;
      settle(code);
    };
    // Nothing a program writes after its step ended reaches the log, as with a killed process.
    const write = (stream: 'stdout' | 'stderr') => (text: string): void => {
      if (!ended) step.onOutput(stream, Buffer.from(`${text}\n`, 'utf8'));
    };
    const stop = new AbortController();
    this.stopCurrent = () => {
      stop.abort();
      finish(-1);
    };
    const started: StartedStep = {
      signal: async (signal: StepSignal) => {
        stop.abort();
        if (signal === 'KILL') finish(137);
      },
      wait: () => exited,
      detach: () => finish(-1),
    };
    if (!program) {
      write('stderr')(`sh: ${name.split(/\s/)[0]}: not found (no program of the fake executor is named '${name}')`);
      finish(127);
      return started;
    }
    const io = this.io(step, stop.signal, write);
    void (async () => {
      try {
        finish(await program(io));
      } catch (err) {
        io.err(`error: ${(err as Error).message}`);
        finish(1);
      }
    })();
    return started;
  }

  async readEnvFile(step: { index: number; maxBytes: number; file?: 'env' | 'output' }): Promise<string> {
    const where = this.locations(step.index);
    const path = step.file === 'output' ? where.outputFile : where.envFile;
    if (!existsSync(path)) return '';
    if (statSync(path).size > step.maxBytes) throw new Error(`file larger than ${step.maxBytes} bytes`);
    return readFileSync(path, 'utf8');
  }

  async destroy(): Promise<void> {
    this.stopCurrent?.();
    this.state = 'destroyed';
    rmSync(this.dir, { recursive: true, force: true });
  }

  private io(step: StepStart, signal: AbortSignal, write: (stream: 'stdout' | 'stderr') => (text: string) => void): StepIo {
    const { gates } = this.options;
    const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    return {
      out: write('stdout'),
      err: write('stderr'),
      env: step.env,
      workspace: this.workspace,
      signal,
      isReleased: (gate = DEFAULT_GATE) => gates.isOpen(gate),
      released: (gate = DEFAULT_GATE) => Promise.race([aborted, gates.opened(gate)]),
      sleep: (ms) => new Promise<void>((resolve) => {
        // The timer goes with the abort, so a long sleep of a stopped step keeps nothing alive.
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener('abort', done, { once: true });
        if (signal.aborted) done();
      }),
    };
  }

  /** The commit's tree in the workspace, through the engine's own mirror and `git archive`. */
  private async checkout(): Promise<void> {
    const { source, say } = this.options;
    const workspace = this.workspace;
    const started = Date.now();
    if (source.kind === 'dir') {
      say(`copying ${source.path} into the workspace`);
      cpSync(source.path, workspace, { recursive: true, filter: (path) => !/(^|[\\/])\.git([\\/]|$)/.test(relative(source.path, path)) });
    } else {
      say(`checkout ${redactUrl(source.url)} at ${source.sha}`);
      const archive = await archiveCommit(source, source.sha, this.options.mirrorsDir);
      await Promise.all([pipeline(archive.stream, tar.x({ cwd: workspace })), archive.done]);
    }
    say(`workspace ready in ${Date.now() - started} ms`);
  }
}

/** The workspace as hooks see a job container: container paths under /workspace map to `dir`. */
class FakeJobContainer implements JobContainer {
  readonly workspace = WORKSPACE;

  constructor(private readonly dir: string, private readonly kilnDir?: string) {}

  private host(path: string): string {
    // Kiln's own directory (/kiln in a container: the debug environment file) is `kiln` beside the workspace.
    const own = posix.relative('/kiln', posix.resolve(WORKSPACE, path));
    if (!own.startsWith('..') && this.kilnDir) return join(this.kilnDir, own);
    const rel = posix.relative(WORKSPACE, posix.resolve(WORKSPACE, path));
    if (rel.startsWith('..')) throw new Error(`the fake job container has only ${WORKSPACE}, not ${path}`);
    return join(this.dir, rel);
  }

  async exec(argv: string[]): Promise<{ exitCode: number }> {
    throw new Error(`the fake executor runs no commands in a container (asked for: ${argv.join(' ')})`);
  }

  async putArchive(dir: string, archive: Readable): Promise<void> {
    const target = this.host(dir);
    mkdirSync(target, { recursive: true });
    await pipeline(archive, tar.x({ cwd: target }));
  }

  /** Like Docker's archive API: entries are named from the path's base name. */
  async getArchive(path: string): Promise<Readable> {
    const source = this.host(path);
    if (!existsSync(source)) throw new Error(`no such file or directory in the container: ${path}`);
    return Readable.from(tar.c({ cwd: dirname(source), portable: true }, [basename(source)]));
  }
}
