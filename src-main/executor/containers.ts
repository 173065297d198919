/**
 * Docker container primitives for the executor: labels, idempotent removal, exec with demultiplexed
 * output, archives in and out, and the JobContainer handed to hooks.
 *
 * Everything goes through the Docker API (no host paths, no docker CLI), so a remote engine
 * (DOCKER_HOST tcp/ssh) behaves like the local one.
 */
import type { Duplex, Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import type { JobContainer } from '../core/job-contract.js';

export const LABEL = {
  instance: 'kiln.instance',
  run: 'kiln.run',
  job: 'kiln.job',
  /** job | service */
  role: 'kiln.role',
  /** Epoch ms; lets a reaper judge the age of another instance's leftovers. */
  created: 'kiln.created',
} as const;

export function kilnLabels(instanceId: string, runId: string, jobId: string, role: 'job' | 'service'): Record<string, string> {
  return {
    [LABEL.instance]: instanceId,
    [LABEL.run]: runId,
    [LABEL.job]: jobId,
    [LABEL.role]: role,
    [LABEL.created]: String(Date.now()),
  };
}

/** A name Docker accepts ([a-zA-Z0-9][a-zA-Z0-9_.-]*), recognisable, unique enough with the suffix. */
export function resourceName(parts: string[], suffix: string): string {
  const body = parts
    .join('-')
    .replace(/[^a-zA-Z0-9_.-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^[-_.]+|[-_.]+$/g, '')
    .slice(0, 60);
  return `kiln-${body}-${suffix}`;
}

interface DockerErrorShape {
  statusCode?: number;
  json?: { message?: string } | null;
  message?: string;
  code?: string;
}

export function statusCodeOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null ? (err as DockerErrorShape).statusCode : undefined;
}

/** The engine's own message when there is one ("No such image: x"), else the error's. */
export function dockerMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const e = err as DockerErrorShape;
    const fromJson = e.json && typeof e.json === 'object' ? e.json.message : undefined;
    if (fromJson) return fromJson;
    if (e.message) return e.message.replace(/^\(HTTP code \d+\) [a-z ]+ - /, '').trim();
  }
  return String(err);
}

/** True when the error means the engine could not be reached or the connection broke. */
export function isConnectionError(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as DockerErrorShape).code : undefined;
  return code !== undefined && ['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ERR_STREAM_PREMATURE_CLOSE'].includes(code);
}

/** Force-removes a container (and its anonymous volumes). Idempotent: a missing container is fine. */
export async function removeContainer(docker: Dockerode, id: string): Promise<void> {
  try {
    await docker.getContainer(id).remove({ force: true, v: true });
  } catch (err) {
    const code = statusCodeOf(err);
    // 404: already gone; 409: removal already in progress.
    if (code === 404 || code === 409) return;
    throw err;
  }
}

export async function removeNetwork(docker: Dockerode, id: string): Promise<void> {
  try {
    await docker.getNetwork(id).remove();
  } catch (err) {
    if (statusCodeOf(err) === 404) return;
    throw err;
  }
}

export async function removeVolume(docker: Dockerode, name: string): Promise<void> {
  try {
    await docker.getVolume(name).remove({ force: true });
  } catch (err) {
    if (statusCodeOf(err) === 404) return;
    throw err;
  }
}

export interface ExecOptions {
  cmd: string[];
  env?: string[];
  workdir?: string;
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
}

/** A started exec: its exit code once the output has ended, and a way to stop waiting for it. */
export interface RunningExec {
  /** Resolves with the exit code; rejects when the engine connection breaks. */
  done: Promise<number>;
  /** Stops reading (the process keeps running until the container is removed). */
  detach(): void;
}

/** Splits Docker's multiplexed exec stream (8-byte frame headers) into stdout and stderr chunks. */
function demultiplex(onOutput: (stream: 'stdout' | 'stderr', chunk: Buffer) => void): (chunk: Buffer) => void {
  let header = Buffer.alloc(0);
  let remaining = 0;
  let stream: 'stdout' | 'stderr' = 'stdout';
  return (chunk: Buffer) => {
    let pos = 0;
    while (pos < chunk.length) {
      if (remaining === 0) {
        const need = 8 - header.length;
        header = Buffer.concat([header, chunk.subarray(pos, pos + need)]);
        pos += need;
        if (header.length < 8) return;
        stream = header[0] === 2 ? 'stderr' : 'stdout';
        remaining = header.readUInt32BE(4);
        header = Buffer.alloc(0);
        continue;
      }
      const take = Math.min(remaining, chunk.length - pos);
      onOutput(stream, chunk.subarray(pos, pos + take));
      pos += take;
      remaining -= take;
    }
  };
}

export class EngineConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineConnectionError';
  }
}

export async function startExec(container: Dockerode.Container, options: ExecOptions): Promise<RunningExec> {
  const exec = await container.exec({
    Cmd: options.cmd,
    Env: options.env,
    WorkingDir: options.workdir,
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: false,
    Tty: false,
  });
  const stream = (await exec.start({ hijack: true, stdin: false })) as Duplex;
  const feed = demultiplex(options.onOutput ?? (() => undefined));
  let detached = false;
  let finished = false;
  // A process left in the background (`server &`) keeps the output open after the exec'd process
  // exited: once the engine says it is not running, read what is buffered, then stop waiting.
  let exitedFirst = false;
  const poll = setInterval(() => {
    exec
      .inspect()
      .then((info) => {
        if (info.Running || finished) return;
        clearInterval(poll);
        setTimeout(() => {
          if (finished) return;
          exitedFirst = true;
          detached = true;
          stream.destroy();
        }, 500);
      })
      .catch(() => undefined);
  }, 1000);
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => feed(chunk));
    stream.once('end', () => {
      finished = true;
      resolve();
    });
    stream.once('error', (err: Error) => {
      finished = true;
      if (detached) resolve();
      else reject(new EngineConnectionError(`lost the connection to the Docker engine during a step: ${err.message}`));
    });
    stream.once('close', () => {
      if (finished) return;
      if (detached) resolve();
      else reject(new EngineConnectionError('lost the connection to the Docker engine during a step (stream closed before the step ended)'));
    });
  });
  const done = ended.finally(() => clearInterval(poll)).then(async () => {
    if (detached && !exitedFirst) return -1;
    // The stream can end a moment before the engine records the exit code. Still running a second
    // later means the stream did not end because the process did: the connection was cut.
    for (let i = 0; i < 50; i++) {
      let info: Dockerode.ExecInspectInfo;
      try {
        info = await exec.inspect();
      } catch (err) {
        if (isConnectionError(err)) throw new EngineConnectionError(`lost the connection to the Docker engine during a step: ${dockerMessage(err)}`);
        throw err;
      }
      if (!info.Running && info.ExitCode !== null) return info.ExitCode;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new EngineConnectionError('lost the connection to the Docker engine during a step: the output ended while the step was still running');
  });
  return {
    done,
    detach() {
      detached = true;
      stream.destroy();
    },
  };
}

/** Runs a short command and collects its output. */
export async function execCapture(container: Dockerode.Container, cmd: string[], env?: string[]): Promise<{ exitCode: number; stdout: Buffer; stderr: Buffer }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const running = await startExec(container, { cmd, env, onOutput: (s, c) => (s === 'stdout' ? out : err).push(c) });
  const exitCode = await running.done;
  return { exitCode, stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
}

/** Drains a Node stream / request result so dockerode's putArchive promise settles. */
export async function putArchive(container: Dockerode.Container, dir: string, tar: Readable | Buffer): Promise<void> {
  const res = (await container.putArchive(tar as unknown as string, { path: dir })) as unknown;
  if (res && typeof (res as Readable).resume === 'function') (res as Readable).resume();
}

/** The JobContainer hooks (cache, artifacts) see. */
export class DockerJobContainer implements JobContainer {
  readonly workspace = '/workspace';
  readonly id: string;

  constructor(private readonly container: Dockerode.Container) {
    this.id = container.id;
  }

  async exec(argv: string[], options: { env?: Record<string, string>; workdir?: string; onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void } = {}): Promise<{ exitCode: number }> {
    const env = options.env ? Object.entries(options.env).map(([k, v]) => `${k}=${v}`) : undefined;
    const running = await startExec(this.container, { cmd: argv, env, workdir: options.workdir ?? this.workspace, onOutput: options.onOutput });
    return { exitCode: await running.done };
  }

  async putArchive(dir: string, tar: Readable): Promise<void> {
    const mk = await execCapture(this.container, ['mkdir', '-p', dir]);
    if (mk.exitCode !== 0) throw new Error(`cannot create ${dir} in the job container: ${mk.stderr.toString().trim()}`);
    await putArchive(this.container, dir, tar);
  }

  async getArchive(path: string): Promise<Readable> {
    return (await this.container.getArchive({ path })) as unknown as Readable;
  }
}
