/**
 * The life of one job around its steps, the same for every backend: the job timer and the cancel,
 * bring-up, hooks.beforeSteps → steps (job-steps.ts, through the backend's StepRunner) →
 * hooks.afterSteps, teardown, the final status of every step and the job's error sentence.
 * A backend (DockerExecutor; the tests' fake executor) gives only what is its own: how the job's
 * environment comes up, how it goes away, and how its errors read. So a test backend cannot drift
 * from the rules a real job follows.
 *
 * Call order: bringUp → hooks.beforeSteps → runSteps → hooks.afterSteps → teardown. Teardown always
 * runs (pass, fail, timeout, cancel, backend error), once, last. A stop (cancel or job timeout)
 * records its reason before anything is signalled: the reason, not an exit code, decides the status.
 * It is said then, once (a log line and its annotation, which name the step or phase it stopped);
 * a stop because Kiln itself is stopping (SHUTDOWN_REASON) is a hand-back, said as such, with no
 * annotation: the job runs again on the next start.
 * After a stop nothing more starts (no further step, no afterSteps).
 *
 * Keep-on-failure (request.debug): when a step failed and the job is not stopped, the failing step's
 * environment (its own $KILN_ENV additions included) is written into the environment as a file,
 * and debug.hold keeps the job up — the job timer stopped, the worker's slot still taken — until it
 * is released; teardown follows unless hold answers 'leave' (then no end marks either: the hold
 * goes on past this process, and whoever removes the container marks its end). A step re-run while held goes through
 * the same runner and the same masked log as the steps.
 *
 * runJobLifecycle never rejects for the job's own outcome: a failing step, a timeout or a cancel is
 * a JobResult, and an error of bring-up or of the hooks is a 'failed' result worded by the backend.
 */
import { Readable } from 'node:stream';
import { rerunGroupTitle } from '../../shared/model/job-records.js';
import type { StepSummary } from '../../shared/model/run.js';
import type { Status } from '../../shared/model/status.js';
import { formatDuration } from '../../shared/format.js';
import { SHUTDOWN_REASON, type JobContainer, type JobPhaseMark, type JobResult, type JobRunRequest, type KeptJob } from '../core/job-contract.js';
import { makeTar } from './archive.js';
import { runStep, type Interruption } from './exec-step.js';
import { parseEnvFile } from './env-file.js';
import { runSteps, type StepsOutcome } from './job-steps.js';
import { JobLog } from './log-capture.js';
import { SecretMasker } from './secret-masker.js';
import { stepDebugEnabled } from './step-commands.js';
import type { StepRunner } from './step-runner.js';
import { DEBUG_ENV_FILE, exportLines } from './step-script.js';

/** The job's environment once it is up: the steps run through `runner`, hooks see `container`. */
export interface JobEnvironment {
  runner: StepRunner;
  container: JobContainer;
}

/** What a backend does for one job. */
export interface JobBackend {
  /**
   * Brings up the job's environment, the runner's setup included. `signal` is aborted by a stop;
   * bring-up then ends soon, rejecting with any error (the stop decides the wording). Before it settles it calls
   * `setPhase` with what it is doing (or was doing when it failed), for the error sentence.
   * Whatever it created, even when it rejects, is teardown's to remove.
   */
  bringUp(o: { signal: AbortSignal; say(text: string): void; setPhase(phase: string): void }): Promise<JobEnvironment>;
  /** Removes everything bringUp created. Called once, last, in every case; reports what it could not remove through `say`. Never rejects. */
  teardown(say: (text: string) => void): Promise<void>;
  /** The sentence for an error that ended the job while `phase` (not a stop), and whether the infrastructure failed rather than the job. */
  describeError(err: unknown, phase: string): { message: string; infrastructure: boolean; engineLost?: boolean };
  /**
   * Asked when the steps failed: did the engine stop, restart or become unreachable under the job
   * (its container killed or lost)? A reason makes the failure the infrastructure's, not the step's.
   */
  engineLost?(exitCode?: number): Promise<string | undefined>;
}

export interface JobLifecycleOptions {
  killGraceMs: number;
  maxStepOutputBytes: number;
  /** How long finding the kept container's user may take (default 5 s; tests shorten it). */
  execUserTimeoutMs?: number;
}

/** Thrown inside the lifecycle when the job was stopped (cancel or job timeout) outside a step. */
class Stopped extends Error {}

/** Thrown inside the lifecycle when the engine went away under failed steps (already reported). */
class EngineGone extends Error {}

export async function runJobLifecycle(request: JobRunRequest, backend: JobBackend, options: JobLifecycleOptions): Promise<JobResult> {
  const { job } = request;
  // A debug re-run's `::error` lines stay in the log but add no annotation: the run's annotations are
  // what the run did, and a person trying fixes in the kept container would otherwise multiply them.
  let rerunning = false;
  const onRecord = (r: Parameters<NonNullable<JobRunRequest['onRecord']>>[0]): void => {
    if (!(rerunning && r.kind === 'annotation')) request.onRecord?.(r);
  };
  const log = new JobLog(new SecretMasker(Object.values(request.secrets)), request.onLog, request.logOffset ?? 0, options.maxStepOutputBytes, onRecord, { stepDebug: stepDebugEnabled(job.env) });
  const steps: StepSummary[] = job.steps.map((s) => ({ index: s.index, name: s.name, status: 'queued' as Status }));
  const say = (text: string): void => {
    log.system(text);
  };
  /** The job's error, said once: a log line and the annotation that links to it. */
  const sayError = (text: string, level: 'error' | 'warning'): void => log.annotate({ level, message: text.replace(/^error: /, ''), step: null, seq: log.system(text) });
  // The timing view's marks: repeated marks of the same phase are one phase.
  let lastMark: JobPhaseMark | undefined;
  const mark = (phase: JobPhaseMark): void => {
    if (phase === lastMark) return;
    lastMark = phase;
    request.onPhase?.(phase);
  };

  let currentPhase = 'preparing the job';
  // The reason is recorded before anything is signalled: it, not an exit code, decides the status.
  // The stop is said once, as it happens (the step it stops says nothing more): the job's error.
  const stop = new AbortController();
  let stopSentence: string | undefined;
  let handedBack = false;
  const stopFor = (reason: Interruption): void => {
    if (stop.signal.aborted) return;
    const running = steps.find((s) => s.status === 'running');
    const where = running ? `during step '${running.name}'` : `while ${currentPhase}`;
    if (reason === 'cancelled' && request.signal.reason === SHUTDOWN_REASON) {
      // Kiln is stopping, not the user: the job goes back to the queue, so no "cancelled" warning
      // stays on a run that may well pass when it starts again.
      stopSentence = `Kiln is stopping ${where}: this attempt ends here; the job goes back to the queue and starts again when Kiln starts`;
      handedBack = true;
      say(stopSentence);
    } else {
      stopSentence = reason === 'timed_out' ? `job timed out after ${formatDuration(job.timeoutMs)} ${where}` : `job cancelled ${where}`;
      sayError(stopSentence, reason === 'cancelled' ? 'warning' : 'error');
    }
    stop.abort(reason);
  };
  const onCancel = (): void => stopFor('cancelled');
  request.signal.addEventListener('abort', onCancel, { once: true });
  if (request.signal.aborted) onCancel();
  const jobTimer = job.timeoutMs > 0 ? setTimeout(() => stopFor('timed_out'), job.timeoutMs) : undefined;
  const checkStopped = (): void => {
    if (stop.signal.aborted) throw new Stopped();
  };

  let status: Status = 'failed';
  let error: string | undefined;
  let infrastructure = false;
  let outputs: Record<string, string> | undefined;
  let engineLost = false;
  let kept: KeptJob | undefined;
  try {
    checkStopped();
    mark('setting_up');
    const setPhase = (phase: string): void => {
      currentPhase = phase;
      // Backends word their phases for error sentences; an image pull is the one the timing view shows apart.
      mark(phase.startsWith('pulling') ? 'pulling' : 'setting_up');
    };
    const { runner, container } = await backend.bringUp({ signal: stop.signal, say, setPhase });
    checkStopped();

    if (request.hooks?.beforeSteps) {
      currentPhase = 'restoring caches';
      await request.hooks.beforeSteps(container, say);
      checkStopped();
    }
    currentPhase = 'running steps';
    mark('steps');
    const outcome = await runSteps({
      runner,
      runId: request.runId,
      job,
      event: request.event,
      secrets: request.secrets,
      log,
      killGraceMs: options.killGraceMs,
      jobSignal: stop.signal,
      steps,
      onStep: (s) => request.onStep?.(s),
      engineLost: backend.engineLost?.bind(backend),
    });
    checkStopped();
    status = outcome.status;
    error = outcome.error;
    infrastructure = outcome.infrastructure ?? false;
    outputs = outcome.outputs;
    if (outcome.engineLost) {
      // "exit code 137" was the engine going away, not the user's code: nothing more runs there.
      infrastructure = engineLost = true;
      throw new EngineGone();
    }
    if (request.hooks?.afterSteps) {
      currentPhase = 'saving caches and artifacts';
      mark('after_steps');
      try {
        await request.hooks.afterSteps(container, status, say);
      } catch (err) {
        sayError(`error: ${(err as Error).message}`, 'error');
        if (status === 'passed') {
          status = 'failed';
          error = `after the steps: ${(err as Error).message}`;
        }
      }
    }
    if (outcome.failure && request.debug?.keepsFailure() && !stop.signal.aborted) {
      currentPhase = 'keeping the job for debugging';
      try {
        kept = await keepForDebug({
          jobKey: request.jobId, runner, container, failure: outcome.failure, log, killGraceMs: options.killGraceMs, signal: request.signal,
          execUserTimeoutMs: options.execUserTimeoutMs, onRerun: (active) => { rerunning = active; },
        });
      } catch (err) {
        // Keeping is a convenience: the step's own failure stays the job's result, and teardown goes on.
        say(`the job could not be kept for debugging: ${(err as Error).message}`);
      }
    }
  } catch (err) {
    if (err instanceof EngineGone) {
      // reported above
    } else if (stop.signal.aborted) {
      // Said when it happened (stopFor).
      status = stop.signal.reason === 'timed_out' ? 'timed_out' : 'cancelled';
      error = stopSentence;
    } else {
      status = 'failed';
      let lostNow: boolean | undefined;
      ({ message: error, infrastructure, engineLost: lostNow } = backend.describeError(err, currentPhase));
      engineLost = lostNow === true;
      sayError(`error: ${error}`, 'error');
    }
  } finally {
    if (jobTimer) clearTimeout(jobTimer);
    request.signal.removeEventListener('abort', onCancel);
    let verdict: 'remove' | 'leave' = 'remove';
    if (kept && request.debug) {
      mark('kept_for_debug'); // the hold is the person's time, not the work after the steps
      verdict = await request.debug.hold(kept, request.signal).catch(() => 'remove' as const);
    }
    if (verdict === 'remove') {
      mark('tearing_down'); // after a debug hold: the timing view shows teardown, not the time spent debugging
      await backend.teardown(say);
      mark('done');
      if (handedBack) say('Kiln stopped: the job was handed back to the queue and starts again when Kiln starts');
    } else {
      // Nothing is torn down: debugging goes on after the restart, whose removal of the job marks its end.
      say('Kiln stopped: the job container stays up for debugging until its deadline; Kiln takes it back when it starts');
    }
  }
  if (stop.signal.aborted && status !== 'cancelled' && status !== 'timed_out') {
    // Stopped right as the last step ended: the recorded reason wins (said when it happened).
    status = stop.signal.reason === 'timed_out' ? 'timed_out' : 'cancelled';
    error = stopSentence;
  }
  for (const s of steps) {
    if (s.status === 'queued' || s.status === 'running') {
      s.status = s.status === 'running' ? status : 'skipped';
      request.onStep?.({ ...s });
    }
  }
  return {
    status, steps, error: error === undefined ? undefined : log.mask(error), infrastructure: infrastructure || undefined,
    ...(engineLost && status === 'failed' ? { engineLost: true } : {}), logOffset: log.offset,
    ...(outputs && (status === 'passed' || status === 'failed') ? { outputs } : {}),
  };
}

/**
 * Writes the failing step's environment into the job's environment and returns what a debug
 * session needs. The step's own $KILN_ENV additions join it, so a shell sees what the step set.
 */
async function keepForDebug(o: {
  jobKey: string; runner: StepRunner; container: JobContainer; failure: NonNullable<StepsOutcome['failure']>; log: JobLog; killGraceMs: number; signal: AbortSignal;
  execUserTimeoutMs?: number;
  /** A re-run starts (true) or ends (false). */
  onRerun(active: boolean): void;
}): Promise<KeptJob> {
  const { runner, container, failure, log } = o;
  let added: Record<string, string> = {};
  try {
    added = parseEnvFile(await runner.readEnvFile({ index: failure.index, maxBytes: 1024 * 1024 })).vars;
  } catch {
    // A step that failed before creating its $KILN_ENV file added nothing.
  }
  const env = { ...failure.env, ...added };
  const file = DEBUG_ENV_FILE.slice(DEBUG_ENV_FILE.lastIndexOf('/') + 1);
  const dir = DEBUG_ENV_FILE.slice(0, DEBUG_ENV_FILE.lastIndexOf('/'));
  // Owned by the user the shell runs as (the image's USER): a 0600 file of root's is unreadable to uid 1000.
  const owner = await execUser(container, (text) => log.system(text), o.execUserTimeoutMs);
  await container.putArchive(dir, Readable.from([makeTar([{ name: file, mode: 0o600, content: Buffer.from(exportLines(env)), ...owner }])]));
  let rerunning = false;
  return {
    containerId: container.id,
    jobKey: o.jobKey,
    workspace: runner.locations(failure.index).workspace,
    envFile: DEBUG_ENV_FILE,
    step: { index: failure.index, name: failure.name },
    async rerunStep() {
      if (rerunning) throw new Error(`step '${failure.name}' is already being re-run`);
      rerunning = true;
      o.onRerun(true);
      try {
        // The re-run's lines come after every step's: a group tagged with the failed step lets a
        // viewer show them under a "re-run of" header of their own, not the last step's.
        const title = rerunGroupTitle(failure.name);
        const start = log.system(`re-running step '${failure.name}' in the kept container (debug)`, failure.index);
        const group = (end: number | null): void => {
          if (start !== undefined) log.emitRecord({ kind: 'group', group: { start, end, endMarker: false, depth: 0, step: failure.index, title } });
        };
        group(null);
        const outcome = await runStep({
          runner, index: failure.index, script: failure.script, env, killGraceMs: o.killGraceMs,
          output: log.openStep(failure.index, failure.name), jobSignal: o.signal, note: (text) => log.system(text, failure.index),
        });
        const code = outcome.exitCode ?? -1;
        log.system(`re-run of step '${failure.name}' ${outcome.status === 'passed' ? 'passed' : `ended ${outcome.status}${outcome.exitCode === undefined ? '' : ` with exit code ${code}`}`}`
          + ' (a re-run adds no annotations to the run)', failure.index);
        group(log.offset);
        return code;
      } finally {
        rerunning = false;
        o.onRerun(false);
      }
    },
  };
}

/** How long `id` may take in the kept container before the environment file is root's. */
const EXEC_USER_TIMEOUT_MS = 5_000;

/**
 * The uid and gid a `docker exec` without a user runs as in `container` (its image's USER, by name
 * or number): what `id` answers there, as the steps and the debug shell see it. Root when `id`
 * cannot tell (an image without it); the shell then says it cannot read the file, if it cannot.
 * An exec that hangs (a stuck engine) must not hang the job: after `timeoutMs`, root, said once.
 */
async function execUser(container: JobContainer, say: (text: string) => void, timeoutMs = EXEC_USER_TIMEOUT_MS): Promise<{ uid: number; gid: number }> {
  let out = '';
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), timeoutMs);
  });
  try {
    const ran = container.exec(['sh', '-c', 'id -u && id -g'], { onOutput: (stream, chunk) => { if (stream === 'stdout') out += chunk.toString('utf8'); } });
    ran.catch(() => undefined); // settled late, after the timeout: nothing waits for it
    const result = await Promise.race([ran, hung]);
    if (result === 'hung') {
      say(`finding the container's user ('id') gave no answer in ${timeoutMs / 1000} s: the debug environment file is root's`);
      return { uid: 0, gid: 0 };
    }
    const [uid, gid] = out.trim().split(/\s+/).map((v) => (/^\d+$/.test(v) ? Number(v) : NaN));
    if (result.exitCode === 0 && Number.isSafeInteger(uid) && Number.isSafeInteger(gid)) return { uid, gid };
  } catch {
    // No shell or no `id`: root, as before.
  } finally {
    clearTimeout(timer);
  }
  return { uid: 0, gid: 0 };
}
