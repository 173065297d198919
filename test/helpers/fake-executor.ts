/**
 * A JobExecutor for tests that runs no container. A step's `run` text names a program the test
 * gave the executor (`run: say-hello` → programs['say-hello']): the program prints lines, waits
 * until the test releases its run, leaves files in the workspace, and returns the step's exit code.
 * Everything around the programs is the executor contract (src-main/executor/job-contract.ts) as
 * DockerExecutor keeps it, so the engine cannot tell the difference:
 *
 * - runJob never rejects for the job's own outcome; a checkout that fails is `infrastructure: true`.
 * - The workspace is a real checkout of the commit (the engine's own git mirror code), in a temp
 *   directory standing for /workspace; hooks (caches, artifacts) see it through a JobContainer
 *   whose archive calls are real tar streams. It cannot exec commands (there is no container).
 * - Steps follow DockerExecutor's rules: `if:` conditions, continue-on-error, later steps skipped
 *   after a failure, a step's own timeout (timed_out), job timeout and cancel stop the running
 *   program through its signal; the same system lines (`step 'x'`, `step 'x' failed with exit
 *   code 3`); output goes through the real line splitter and secret masker, seqs from logOffset.
 * - A step whose `run` names no program fails with exit code 127, as `sh` does for an unknown command.
 * Not modelled: service containers (job.services are not started), $KILN_ENV hand-over between
 * steps, and commands run by hooks (JobContainer.exec rejects) — tests of those use Docker.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, relative } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import type { StepSummary } from '../../shared/model/run.js';
import type { Status } from '../../shared/model/status.js';
import type { JobExecutor } from '../../src-main/core/ports.js';
import { archiveCommit, redactUrl } from '../../src-main/git/checkout.js';
import { formatDuration } from '../../shared/format.js';
import type { JobContainer, JobResult, JobRunRequest } from '../../src-main/core/job-contract.js';
import { eventVariables } from '../../src-main/executor/job-steps.js';
import { JobLog } from '../../src-main/executor/log-capture.js';
import { SecretMasker } from '../../src-main/executor/secret-masker.js';
import { WORKSPACE } from '../../src-main/executor/step-script.js';
import { evaluateCondition } from '../../src-main/pipeline/expressions.js';
import type { ReapCounts } from '../../src-main/core/job-contract.js';

/** What a program sees of its step. */
export interface StepIo {
  /** A chunk of stdout/stderr; a line ends at '\n' (out/err add it). */
  out(text: string): void;
  err(text: string): void;
  /** Built-ins (KILN_EVENT, KILN_BRANCH, …), job env, the job's secrets, step env. */
  env: Record<string, string>;
  /** The host directory that stands for the container's /workspace. */
  workspace: string;
  /** Aborted when the step or job times out or the job is cancelled; the program should return. */
  signal: AbortSignal;
  /** Resolves once the test has released this step's run at `gate` (FakeExecutor.release), or on abort. */
  released(gate?: string): Promise<void>;
  isReleased(gate?: string): boolean;
  /** Waits `ms` (less when aborted). */
  sleep(ms: number): Promise<void>;
}

/** A step's behaviour: returns its exit code. A program that throws fails the step with 1. */
export type StepProgram = (io: StepIo) => number | Promise<number>;

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

const DEFAULT_GATE = 'go';
const gateKey = (runId: string, gate: string): string => `${runId}\0${gate}`;

type StepEnd = { status: Status; exitCode?: number; interruptedBy?: 'job' };

export class FakeExecutor implements JobExecutor {
  /** Programs by the `run` text that names them (trimmed). Tests may add to it at any time. */
  readonly programs: Map<string, StepProgram>;
  /** Every request runJob received, in order. */
  readonly requests: JobRunRequest[] = [];
  /** What ping() answers; a test may make "Docker" unreachable. */
  pingAnswer: { ok: boolean; message?: string } = { ok: true };
  private readonly root: string;
  private readonly mirrorsDir: string;
  /** Only named in the interruption notes (a program stops on its signal). */
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

  /** Nothing outlives runJob here (the workspace goes in its teardown). */
  async reapOrphans(): Promise<ReapCounts> {
    return { containers: 0, networks: 0, volumes: 0 };
  }

  /** Removes the executor's mirrors and any workspace a crashed test left. */
  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  async runJob(request: JobRunRequest): Promise<JobResult> {
    this.requests.push(request);
    const { job } = request;
    const log = new JobLog(new SecretMasker(Object.values(request.secrets)), request.onLog, request.logOffset ?? 0, 10 * 1024 * 1024);
    const say = (text: string): void => log.system(text);
    const steps: StepSummary[] = job.steps.map((s) => ({ index: s.index, name: s.name, status: 'queued' as Status }));
    const stop = new AbortController();
    const onCancel = (): void => stop.abort('cancelled');
    request.signal.addEventListener('abort', onCancel, { once: true });
    if (request.signal.aborted) onCancel();
    const jobTimer = job.timeoutMs > 0 ? setTimeout(() => stop.abort('timed_out'), job.timeoutMs) : undefined;
    // Named like the container's directory: archives of it name their entries workspace/….
    const scratch = mkdtempSync(join(this.root, 'job-'));
    const workspace = join(scratch, basename(WORKSPACE));
    mkdirSync(workspace);
    let status: Status = 'failed';
    let error: string | undefined;
    let infrastructure = false;
    try {
      try {
        await this.checkout(request, workspace, say);
      } catch (err) {
        infrastructure = true;
        throw err;
      }
      const container = new FakeJobContainer(workspace);
      if (request.hooks?.beforeSteps && !stop.signal.aborted) await request.hooks.beforeSteps(container, say);
      const outcome = await this.runSteps(request, steps, log, workspace, stop.signal);
      status = outcome.status;
      error = outcome.error;
      if (request.hooks?.afterSteps && !stop.signal.aborted) {
        try {
          await request.hooks.afterSteps(container, status, say);
        } catch (err) {
          say(`error: ${(err as Error).message}`);
          if (status === 'passed') {
            status = 'failed';
            error = `after the steps: ${(err as Error).message}`;
          }
        }
      }
    } catch (err) {
      status = 'failed';
      error = (err as Error).message;
      say(`error: ${error}`);
    } finally {
      if (jobTimer) clearTimeout(jobTimer);
      request.signal.removeEventListener('abort', onCancel);
      rmSync(scratch, { recursive: true, force: true });
    }
    if (stop.signal.aborted && !infrastructure) {
      status = stop.signal.reason === 'timed_out' ? 'timed_out' : 'cancelled';
      const running = steps.find((s) => s.status === 'running' || s.status === 'cancelled' || s.status === 'timed_out');
      const where = running ? `during step '${running.name}'` : 'while preparing the job';
      error = status === 'timed_out' ? `job timed out after ${formatDuration(job.timeoutMs)} ${where}` : `job cancelled ${where}`;
      say(error);
    }
    for (const s of steps) {
      if (s.status === 'queued' || s.status === 'running') {
        s.status = s.status === 'running' ? status : 'skipped';
        request.onStep?.({ ...s });
      }
    }
    return { status, steps, error: error === undefined ? undefined : log.mask(error), infrastructure: infrastructure || undefined, logOffset: log.offset };
  }

  /** The commit's tree in the workspace, through the engine's own mirror and `git archive`. */
  private async checkout(request: JobRunRequest, workspace: string, say: (text: string) => void): Promise<void> {
    const { source } = request;
    const started = Date.now();
    if (source.kind === 'dir') {
      say(`copying ${source.path} into the workspace`);
      cpSync(source.path, workspace, { recursive: true, filter: (path) => !/(^|[\\/])\.git([\\/]|$)/.test(relative(source.path, path)) });
    } else {
      say(`checkout ${redactUrl(source.url)} at ${source.sha}`);
      const archive = await archiveCommit(source, source.sha, this.mirrorsDir);
      await Promise.all([pipeline(archive.stream, tar.x({ cwd: workspace })), archive.done]);
    }
    say(`workspace ready in ${Date.now() - started} ms`);
  }

  /** DockerExecutor's step rules (src-main/executor/job-steps.ts), with programs for `docker exec`. */
  private async runSteps(request: JobRunRequest, steps: StepSummary[], log: JobLog, workspace: string, jobSignal: AbortSignal): Promise<{ status: Status; error?: string }> {
    const { job, event } = request;
    const secrets: Record<string, string> = {};
    for (const name of job.secrets) if (name in request.secrets) secrets[name] = request.secrets[name];
    const base = { ...eventVariables(event), ...job.env };
    let failed = false;
    let firstFailure: Status | undefined;
    let error: string | undefined;
    const update = (summary: StepSummary, patch: Partial<StepSummary>): void => {
      Object.assign(summary, patch);
      request.onStep?.({ ...summary });
    };
    for (let i = 0; i < job.steps.length; i++) {
      const step = job.steps[i];
      const summary = steps[i];
      if (jobSignal.aborted) break;
      let shouldRun: boolean;
      try {
        shouldRun = evaluateCondition(step.if || 'success()', {
          event: event.kind, branch: event.branch, tag: event.tag, sha: event.sha, repo: event.repo, ref: event.ref, matrix: job.matrix,
          env: base, status: { success: !failed, failure: failed, cancelled: false },
        });
      } catch (err) {
        log.system(`step '${step.name}': invalid condition '${step.if}': ${(err as Error).message}`, step.index);
        update(summary, { status: 'failed', logOffset: log.offset });
        failed = true;
        firstFailure ??= 'failed';
        error ??= `step '${step.name}' has an invalid condition`;
        continue;
      }
      if (!shouldRun) {
        update(summary, { status: 'skipped' });
        continue;
      }
      const startedAt = Date.now();
      update(summary, { status: 'running', startedAt, logOffset: log.offset });
      log.system(`step '${step.name}'`, step.index);
      const env = { ...base, ...secrets, ...step.env, KILN_RUN_ID: request.runId, KILN_JOB: job.env.KILN_JOB ?? job.id, KILN_WORKSPACE: WORKSPACE };
      const outcome = await this.runProgram(request.runId, step.run, env, workspace, log.openStep(step.index, step.name), jobSignal, step.timeoutMs, (text) => log.system(text, step.index));
      const finishedAt = Date.now();
      update(summary, { status: outcome.status, exitCode: outcome.exitCode, finishedAt, durationMs: finishedAt - startedAt });
      if (outcome.interruptedBy === 'job') {
        log.system(`step '${step.name}' ${jobSignal.reason === 'timed_out' ? 'stopped: the job timed out' : 'cancelled'}`, step.index);
        break;
      }
      if (outcome.status === 'passed') {
        log.system(`step '${step.name}' passed in ${formatDuration(finishedAt - startedAt)}`, step.index);
        continue;
      }
      const what = outcome.status === 'timed_out' ? `timed out after ${formatDuration(step.timeoutMs ?? 0)}` : `failed with exit code ${outcome.exitCode}`;
      if (step.continueOnError) {
        log.system(`step '${step.name}' ${what}; continuing (continue-on-error)`, step.index);
      } else {
        log.system(`step '${step.name}' ${what}`, step.index);
        failed = true;
        firstFailure ??= outcome.status;
        error ??= `step '${step.name}' ${what}`;
      }
    }
    return failed ? { status: firstFailure ?? 'failed', error } : { status: 'passed' };
  }

  private async runProgram(
    runId: string, run: string, env: Record<string, string>, workspace: string,
    output: ReturnType<JobLog['openStep']>, jobSignal: AbortSignal, timeoutMs: number | undefined, note: (text: string) => void,
  ): Promise<StepEnd> {
    const program = this.programs.get(run.trim());
    const write = (stream: 'stdout' | 'stderr') => (text: string): void => output.write(stream, Buffer.from(`${text}\n`, 'utf8'));
    if (!program) {
      write('stderr')(`sh: ${run.trim().split(/\s/)[0]}: not found (no program of the fake executor is named '${run.trim()}')`);
      output.end();
      return { status: 'failed', exitCode: 127 };
    }
    // Stopping a program is its signal; the notes are DockerExecutor's words for the SIGTERM it would send.
    const stop = new AbortController();
    const interrupt = (reason: string, why: string): void => {
      if (stop.signal.aborted) return;
      stop.abort(reason);
      note(`${why}: sending SIGTERM to the step's processes (SIGKILL in ${Math.round(this.killGraceMs / 1000)} s)`);
    };
    const relay = (): void => interrupt(jobSignal.reason as string, jobSignal.reason === 'timed_out' ? 'job timed out' : 'job cancelled');
    jobSignal.addEventListener('abort', relay, { once: true });
    if (jobSignal.aborted) relay();
    const timer = timeoutMs ? setTimeout(() => interrupt('step_timeout', `step timed out after ${formatDuration(timeoutMs)}`), timeoutMs) : undefined;
    const aborted = new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    const io: StepIo = {
      out: write('stdout'), err: write('stderr'), env, workspace, signal: stop.signal,
      isReleased: (gate = DEFAULT_GATE) => this.openGates.has(gateKey(runId, gate)),
      released: (gate = DEFAULT_GATE) => {
        const key = gateKey(runId, gate);
        if (this.openGates.has(key)) return Promise.resolve();
        return Promise.race([aborted, new Promise<void>((resolve) => {
          const list = this.waiting.get(key) ?? [];
          list.push(resolve);
          this.waiting.set(key, list);
        })]);
      },
      sleep: (ms) => new Promise<void>((resolve) => {
        // The timer goes with the abort, so a long sleep of a cancelled job keeps nothing alive.
        const done = (): void => {
          clearTimeout(timer);
          stop.signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        stop.signal.addEventListener('abort', done, { once: true });
        if (stop.signal.aborted) done();
      }),
    };
    let exitCode: number;
    try {
      exitCode = await program(io);
    } catch (err) {
      io.err(`error: ${(err as Error).message}`);
      exitCode = 1;
    } finally {
      if (timer) clearTimeout(timer);
      jobSignal.removeEventListener('abort', relay);
      output.end();
    }
    if (stop.signal.aborted) {
      if (stop.signal.reason === 'step_timeout') return { status: 'timed_out', exitCode };
      return { status: stop.signal.reason === 'timed_out' ? 'timed_out' : 'cancelled', exitCode, interruptedBy: 'job' };
    }
    return { status: exitCode === 0 ? 'passed' : 'failed', exitCode };
  }
}

/** The workspace as hooks see a job container: container paths under /workspace map to `dir`. */
class FakeJobContainer implements JobContainer {
  readonly workspace = WORKSPACE;

  constructor(private readonly dir: string) {}

  private host(path: string): string {
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
