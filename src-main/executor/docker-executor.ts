/**
 * The Docker job executor: one job → one fresh container of its image.
 *
 * runJob call order: job network (when there are services) → services (sidecars, health) and,
 * side by side, the job container (DockerStepRunner.setup: create, pulling the image if missing,
 * start, checkout, workspace put) → hooks.beforeSteps → steps (job-steps.ts, through the step
 * runner: a docker exec each) → hooks.afterSteps → teardown (the runner's destroy among it).
 * The job timer, cancel, hooks, steps and final statuses are the shared job lifecycle's
 * (job-lifecycle.ts); this file gives it what is Docker's: bring-up, teardown and error wording.
 * Teardown always runs (pass, fail, timeout, cancel, engine error) and is idempotent; what it cannot
 * remove (the engine went away) carries labels, so `reapOrphans` removes it later.
 *
 * runJob never rejects for the job's own outcome: a failing step, a timeout or a cancel is a
 * JobResult. Docker or checkout trouble is a result with status 'failed' and infrastructure: true.
 */
import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';
import { CheckoutError } from '../git/checkout.js';
import { createEngineClient, engineErrorMessage } from './engines/engine-client.js';
import { describeEndpoint, discoverLocalEngine, type EngineEndpoint } from './engines/engine-address.js';
import { dockerMessage, EngineConnectionError, isConnectionError, removeContainer, removeNetwork, statusCodeOf } from './containers.js';
import { DockerStepRunner, SetupStopped } from './docker-step-runner.js';
import type { ExecutorOptions, JobResult, JobRunRequest, ReapCounts } from '../core/job-contract.js';
import { runJobLifecycle, type JobBackend, type JobEnvironment } from './job-lifecycle.js';
import { DOCKER_STORAGE_FULL, isDiskFull } from '../core/disk-full.js';
import { InfrastructureError } from './pull.js';
import { reapOrphans } from './reaper.js';
import { createJobNetwork, startServices } from './services.js';

export const DEFAULT_MAX_STEP_OUTPUT_BYTES = 10 * 1024 * 1024;
export const DEFAULT_KILL_GRACE_MS = 10_000;

/** Resources to remove at the end of a job, in reverse order of creation. */
class Teardown {
  private readonly items: Array<{ describe(): string; remove(): Promise<void> }> = [];
  /** The job container's runner, once bring-up made it. */
  runner: DockerStepRunner | undefined;

  constructor(private readonly docker: Dockerode) {}

  track(kind: 'container' | 'network', id: string): void {
    this.items.push({
      describe: () => `${kind} ${id.slice(0, 12)}`,
      remove: () => (kind === 'container' ? removeContainer(this.docker, id) : removeNetwork(this.docker, id)),
    });
  }

  /** The job container's runner: its destroy is idempotent, so it is retried like the rest. */
  trackRunner(runner: DockerStepRunner): void {
    this.runner = runner;
    this.items.push({ describe: () => runner.describe(), remove: () => runner.destroy() });
  }

  /** Removes everything; retries briefly (a connection blip), reports what is left to the reaper. */
  async run(report: (text: string) => void): Promise<void> {
    for (const item of [...this.items].reverse()) {
      let lastError: unknown;
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await item.remove();
          lastError = undefined;
          break;
        } catch (err) {
          lastError = err;
          await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
        }
      }
      if (lastError !== undefined) report(`could not remove ${item.describe()} (${dockerMessage(lastError)}); the reaper will remove it`);
    }
  }
}

export class DockerExecutor {
  readonly docker: Dockerode;
  private readonly maxStepOutputBytes: number;
  private readonly killGraceMs: number;
  private readonly instanceId: string;
  private readonly mirrorsDir: string;

  /** The engine this executor speaks to, and why it was chosen. */
  readonly endpoint: EngineEndpoint;
  /** What discovery consulted (empty when the engine was given). */
  readonly tried: string[];
  private readonly closeClient: () => void;

  /**
   * `docker`: a ready client (tests); else `endpoint`; else the engine the `docker` command would
   * use (engines/engine-address.ts).
   */
  constructor(options: ExecutorOptions & { docker?: Dockerode; endpoint?: EngineEndpoint; callTimeoutMs?: number }) {
    const found = options.docker || options.endpoint ? undefined : discoverLocalEngine();
    this.endpoint = options.endpoint ?? found?.endpoint ?? { name: 'local', address: 'unix:///var/run/docker.sock', source: 'the caller' };
    this.tried = found?.tried ?? [];
    if (options.docker) {
      this.docker = options.docker;
      this.closeClient = () => undefined;
    } else {
      const client = createEngineClient(this.endpoint, { callTimeoutMs: options.callTimeoutMs });
      this.docker = client.docker;
      this.closeClient = client.close;
    }
    this.maxStepOutputBytes = options.maxStepOutputBytes ?? DEFAULT_MAX_STEP_OUTPUT_BYTES;
    this.killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.instanceId = options.instanceId;
    this.mirrorsDir = options.mirrorsDir;
  }

  /** `timeoutMs`: how long to wait for the answer (default: the client's call timeout). */
  async ping(timeoutMs?: number): Promise<{ ok: boolean; message?: string; engine: string; tried: string[] }> {
    const engine = describeEndpoint(this.endpoint);
    const signal = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
    try {
      await (this.docker.ping as (o: { abortSignal?: AbortSignal }) => Promise<unknown>)(signal ? { abortSignal: signal } : {});
      return { ok: true, engine, tried: this.tried };
    } catch (err) {
      const why = signal?.aborted ? `the Docker engine did not answer /_ping within ${(timeoutMs ?? 0) / 1000} s` : engineErrorMessage(err);
      return { ok: false, message: `Docker engine not reachable: ${why}`, engine, tried: this.tried };
    }
  }

  /** The engine's version, for the Engines page. */
  async version(): Promise<string> {
    const v = await this.docker.version();
    return `${v.Version} (API ${v.ApiVersion}, ${v.Os}/${v.Arch})`;
  }

  /** Image names the engine holds (for placing a job where its image already is). */
  async images(): Promise<string[]> {
    const list = await this.docker.listImages();
    return list.flatMap((i) => i.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
  }

  /** Ends the SSH connection of an ssh:// engine; nothing for the others. */
  close(): void {
    this.closeClient();
  }

  /** A rename in Settings keeps this connection; the endpoint is shared with its client, whose messages follow too. */
  rename(name: string): void {
    this.endpoint.name = name;
  }

  /** See reaper.ts for the rule (own instance: job not live; other instances: also older than 24 h). */
  reapOrphans(isJobLive: (runId: string, jobId: string) => boolean): Promise<ReapCounts> {
    return reapOrphans(this.docker, { instanceId: this.instanceId, isJobLive });
  }

  runJob(request: JobRunRequest): Promise<JobResult> {
    const teardown = new Teardown(this.docker);
    return runJobLifecycle(
      request,
      {
        bringUp: (o) => this.bringUp(request, teardown, o),
        teardown: (say) => teardown.run(say),
        describeError: (err, phase) => ({
          message: describeInfrastructureError(err, phase), infrastructure: !(err instanceof SetupStopped),
          engineLost: err instanceof EngineConnectionError || isConnectionError(err),
        }),
        engineLost: (exitCode) => this.engineLost(teardown.runner, exitCode),
      },
      { killGraceMs: this.killGraceMs, maxStepOutputBytes: this.maxStepOutputBytes },
    );
  }

  /**
   * After failed steps: whether the engine went away under them. It does not answer; or the job
   * container is gone or stopped (not by the job's own memory limit): the engine stopped or restarted.
   * A step killed (137) or cut off (no exit code) while the container still runs is asked about
   * once more a moment later: an engine shutting down kills the processes before its own state,
   * and its socket, go.
   */
  private async engineLost(runner: DockerStepRunner | undefined, exitCode?: number): Promise<string | undefined> {
    const first = await this.engineLostNow(runner);
    if (first !== undefined || (exitCode !== undefined && exitCode !== 137)) return first;
    await new Promise((r) => setTimeout(r, 1_500));
    return this.engineLostNow(runner);
  }

  private async engineLostNow(runner: DockerStepRunner | undefined): Promise<string | undefined> {
    const ping = await this.ping(5_000);
    const name = `'${this.endpoint.name}'`;
    if (!ping.ok) return `the Docker engine ${name} went away during the job (${ping.message?.replace(/^Docker engine not reachable: /, '')}); its container was lost with it`;
    const container = runner?.containerHandle;
    if (!container) return undefined;
    try {
      const info = await container.inspect();
      if (info.State.Running || info.State.OOMKilled) return undefined;
      return `the job's container was stopped under the job (${info.State.Status}, exit ${info.State.ExitCode}): the Docker engine ${name} stopped or restarted`;
    } catch (err) {
      if (statusCodeOf(err) === 404) return `the job's container disappeared during the job: the Docker engine ${name} lost it`;
      if (isConnectionError(err)) return `the Docker engine ${name} went away during the job (${dockerMessage(err)})`;
      return undefined;
    }
  }

  /** The job network (when there are services), then the services and the job container side by side. */
  private async bringUp(request: JobRunRequest, teardown: Teardown, { signal: stopSignal, say, setPhase }: Parameters<JobBackend['bringUp']>[0]): Promise<JobEnvironment> {
    const { job } = request;
    const suffix = randomBytes(4).toString('hex');
    // Aborted by a stop, or by the first failure while the services and the job container come up.
    const bringUp = new AbortController();
    const relay = (): void => bringUp.abort();
    stopSignal.addEventListener('abort', relay, { once: true });
    const track = (k: 'container' | 'network', id: string): void => teardown.track(k, id);
    const ctx = { docker: this.docker, instanceId: this.instanceId, runId: request.runId, jobId: request.jobId, jobKey: job.id, suffix, log: say, signal: bringUp.signal, track };
    let network: string | undefined;
    if (job.services.length > 0) {
      setPhase('creating the job network');
      network = await createJobNetwork(ctx);
    }
    // Services and the job container come up side by side (the steps wait for both): the job
    // container's create, start and workspace put overlap the services' start and health wait.
    // Both are settled before going on, so teardown sees every resource either one created.
    let containerPhase = 'creating the job container';
    const runner = new DockerStepRunner({
      docker: this.docker,
      instanceId: this.instanceId,
      runId: request.runId,
      jobId: request.jobId,
      job,
      source: request.source,
      mirrorsDir: this.mirrorsDir,
      network,
      suffix,
      say,
      setPhase: (phase) => {
        containerPhase = phase;
        setPhase(phase); // the timing view sees the pull as it happens
      },
    });
    teardown.trackRunner(runner);
    let failure: { err: unknown; phase: string } | undefined;
    const failFast = <T>(promise: Promise<T>, phase: () => string): Promise<T> =>
      promise.catch((err: unknown) => {
        failure ??= { err, phase: phase() };
        bringUp.abort();
        throw err;
      });
    const [, up] = await Promise.allSettled([
      network === undefined ? undefined : failFast(startServices(job.services, network, ctx), () => 'starting services'),
      failFast(runner.setup(bringUp.signal), () => containerPhase),
    ]);
    stopSignal.removeEventListener('abort', relay);
    setPhase(failure?.phase ?? containerPhase);
    if (failure) throw failure.err;
    if (up.status === 'rejected') throw up.reason;
    return { runner, container: runner.jobContainer };
  }
}

function describeInfrastructureError(err: unknown, phase: string): string {
  if (err instanceof InfrastructureError || err instanceof CheckoutError || err instanceof EngineConnectionError) return err.message;
  if (isConnectionError(err)) return `lost the connection to the Docker engine while ${phase}: ${dockerMessage(err)}`;
  // An image pull, a container create or a write in the container that found the engine's disk full.
  if (isDiskFull(err)) return `${DOCKER_STORAGE_FULL} while ${phase}: ${dockerMessage(err)}`;
  return `Docker error while ${phase}: ${dockerMessage(err)}`;
}
