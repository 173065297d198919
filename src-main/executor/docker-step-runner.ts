/**
 * The Docker StepRunner: one job container per job, one `docker exec` per step.
 *
 * setup: create the container (pulling the image only when the engine says it is missing), with
 * its entrypoint replaced by a keep-alive loop, docker-init as PID 1 and the kiln.* labels; start
 * it while the checkout is prepared on the host; then put the workspace in through the API.
 * destroy force-removes the container; anything it cannot remove carries labels for the reaper.
 *
 * A step runs through a fixed wrapper (step-script.ts) that records its PID first: each exec
 * process is its own process-group leader, so `kill -TERM -<pid>` from a second exec reaches every
 * process of the step with no host PID (remote engines work too). The user's script travels as an
 * environment variable, or as a file when it is too large for one — never as part of a command.
 */
import type Dockerode from 'dockerode';
import type { PlannedJob } from '../../shared/model/plan.js';
import { makeTar, readFirstFile } from './archive.js';
import { DockerJobContainer, execCapture, kilnLabels, putArchive, removeContainer, resourceName, startExec, statusCodeOf } from './containers.js';
import type { JobContainer, WorkspaceSource } from '../core/job-contract.js';
import { ensureImage } from './pull.js';
import type { StartedStep, StepLocations, StepRunner, StepStart, StorageSpace } from './step-runner.js';
import { KEEP_ALIVE, killCommand, MAX_INLINE_SCRIPT_BYTES, SCRIPT_VARIABLE, stepCommand, stepPaths, WORKSPACE } from './step-script.js';
import { prepareWorkspace } from './workspace.js';

/** Thrown by setup when its signal was aborted part-way (a cancel, or a sibling's failure). */
export class SetupStopped extends Error {
  constructor() {
    super('stopped while bringing up the job container');
    this.name = 'SetupStopped';
  }
}

export interface DockerStepRunnerOptions {
  docker: Dockerode;
  instanceId: string;
  runId: string;
  /** The stored job's id: the kiln.job label (the reaper spares the containers of running jobs by it). */
  jobId: string;
  job: PlannedJob;
  source: WorkspaceSource;
  mirrorsDir: string;
  /** The job network (when the job has services). */
  network?: string;
  /** Makes the container's name unique. */
  suffix: string;
  /** Progress lines (pulls, checkout) for the job log. */
  say(text: string): void;
  /** What setup is doing now, for an error message that says where it failed. */
  setPhase(phase: string): void;
}

export class DockerStepRunner implements StepRunner {
  private container: Dockerode.Container | undefined;
  private removed = false;

  constructor(private readonly options: DockerStepRunnerOptions) {}

  /** The running job container as hooks (caches, artifacts) see it. After setup only. */
  /** The job container once created (for asking the engine what became of it). */
  get containerHandle(): Dockerode.Container | undefined {
    return this.container;
  }

  get jobContainer(): JobContainer {
    return new DockerJobContainer(this.ready());
  }

  /** What destroy removes, for a message when it cannot. */
  describe(): string {
    return this.container ? `container ${this.container.id.slice(0, 12)}` : 'job container (not created)';
  }

  async setup(signal: AbortSignal): Promise<void> {
    if (this.container || this.removed) throw new Error('DockerStepRunner.setup: called twice or after destroy');
    const { docker, job, runId, say, setPhase } = this.options;
    const create = () =>
      docker.createContainer({
        name: resourceName([runId, job.id], this.options.suffix),
        Image: job.image,
        Entrypoint: KEEP_ALIVE.slice(0, 1),
        Cmd: KEEP_ALIVE.slice(1),
        WorkingDir: WORKSPACE,
        Labels: kilnLabels(this.options.instanceId, runId, this.options.jobId, 'job'),
        Tty: false,
        HostConfig: { Init: true, NetworkMode: this.options.network },
      });
    // Create first, pull only when the engine says the image is missing: one round trip less per job.
    const container = await create().catch(async (err: unknown) => {
      if (statusCodeOf(err) !== 404) throw err;
      setPhase(`pulling image ${job.image}`);
      await ensureImage(docker, job.image, say, signal);
      if (signal.aborted) throw new SetupStopped();
      setPhase('creating the job container');
      return create();
    });
    this.container = container;

    setPhase('preparing the workspace');
    // Starting takes the engine a few hundred ms: the host-side checkout work (mirror fetch,
    // `git archive`, loading `tar`) overlaps it; the upload follows, into the running container
    // (cheaper for the engine than into a stopped one: see workspace.ts).
    const [started, prepared] = await Promise.allSettled([container.start(), prepareWorkspace(this.options.source, this.options.mirrorsDir, say)]);
    if (prepared.status === 'rejected') throw prepared.reason;
    if (started.status === 'rejected' || signal.aborted) {
      prepared.value.abort();
      if (started.status === 'rejected') throw started.reason;
      throw new SetupStopped();
    }
    await prepared.value.put(container);
  }

  locations(index: number): StepLocations {
    const paths = stepPaths(index);
    return { workspace: WORKSPACE, envFile: paths.envFile, summaryFile: paths.summaryFile, outputFile: paths.outputFile };
  }

  async startStep(step: StepStart): Promise<StartedStep> {
    const container = this.ready();
    const paths = stepPaths(step.index);
    const inline = Buffer.byteLength(step.script) <= MAX_INLINE_SCRIPT_BYTES;
    const env: Record<string, string> = { ...step.env };
    if (inline) {
      env[SCRIPT_VARIABLE] = step.script;
    } else {
      const rel = paths.scriptFile.replace(/^\//, '');
      await putArchive(container, '/', makeTar([{ name: rel, mode: 0o755, content: Buffer.from(step.script) }]));
    }
    const running = await startExec(container, {
      cmd: stepCommand(paths, inline),
      env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      workdir: WORKSPACE,
      onOutput: step.onOutput,
    });
    return {
      signal: async (signal) => {
        try {
          await execCapture(container, killCommand(paths, signal));
        } catch {
          // The container may be gone or the engine unreachable; destroy deals with it.
        }
      },
      wait: () => running.done,
      detach: () => running.detach(),
    };
  }

  async readEnvFile(step: { index: number; maxBytes: number; file?: 'env' | 'output' }): Promise<string> {
    const container = this.ready();
    const paths = stepPaths(step.index);
    const path = step.file === 'output' ? paths.outputFile : paths.envFile;
    // Most steps write nothing to $KILN_ENV: check the size before reading.
    const size = await fileSize(container, path).catch((err: { statusCode?: number }) => {
      if (err.statusCode === 404) return 0; // never created: the step was not given the file
      throw err;
    });
    if (size === 0) return '';
    const tar = await container.getArchive({ path });
    return (await readFirstFile(tar as unknown as AsyncIterable<Buffer>, step.maxBytes)).toString('utf8');
  }

  async readSummaryFile(step: { index: number; maxBytes: number }): Promise<{ text: string; bytes: number }> {
    const container = this.ready();
    const path = stepPaths(step.index).summaryFile;
    // Most steps write no summary: check the size (a HEAD request) before reading; `head -c` never reads past the limit.
    const bytes = (await fileSize(container, path)) ?? 0;
    if (bytes === 0) return { text: '', bytes: 0 };
    const read = await execCapture(container, ['head', '-c', String(step.maxBytes), path]);
    if (read.exitCode !== 0) throw new Error(`cannot read ${path}: ${read.stderr.toString('utf8').trim()}`);
    return { text: read.stdout.toString('utf8'), bytes };
  }

  /**
   * `df` of the container's root filesystem, from inside: an overlay reports the filesystem under
   * the engine's data root, so this measures the engine's storage — a remote engine's too, which
   * no `docker info` field gives. Undefined when the image has no `df` or its output is unexpected.
   */
  async storageSpace(): Promise<StorageSpace | undefined> {
    const read = await execCapture(this.ready(), ['df', '-Pk', '/']).catch(() => undefined);
    if (!read || read.exitCode !== 0) return undefined;
    return parseDf(read.stdout.toString('utf8'));
  }

  async destroy(): Promise<void> {
    if (this.removed) return;
    if (this.container) await removeContainer(this.options.docker, this.container.id);
    // Only after a successful removal: a failed destroy is retried by the caller.
    this.removed = true;
  }

  private ready(): Dockerode.Container {
    if (this.removed) throw new Error('DockerStepRunner: used after destroy');
    if (!this.container) throw new Error('DockerStepRunner: used before setup');
    return this.container;
  }
}

/** Size of a file in the container from the archive stat header (a HEAD request: far cheaper than reading). */
async function fileSize(container: Dockerode.Container, path: string): Promise<number | undefined> {
  const res = (await container.infoArchive({ path })) as unknown as { headers?: Record<string, string | undefined>; resume?: () => void };
  res.resume?.();
  const stat = res.headers?.['x-docker-container-path-stat'];
  if (!stat) return undefined;
  const size = (JSON.parse(Buffer.from(stat, 'base64').toString('utf8')) as { size?: number }).size;
  return typeof size === 'number' ? size : undefined;
}

/** `df -Pk` output (a header, then `FS 1024-blocks used available capacity mount`) → bytes. */
export function parseDf(text: string): StorageSpace | undefined {
  const fields = text.trim().split('\n').at(-1)?.trim().split(/\s+/) ?? [];
  const [total, , available] = fields.slice(1, 4).map(Number);
  if (fields.length < 6 || !Number.isFinite(total) || !Number.isFinite(available)) return undefined;
  return { freeBytes: available * 1024, totalBytes: total * 1024 };
}
