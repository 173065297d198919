/**
 * A terminal into a kept job container: `docker exec` of the debug shell (step-script.ts: the kept
 * step's environment, the workspace, bash when the image has it, else sh) with a TTY, as one raw
 * duplex byte stream both ways. The caller (the terminal WebSocket, `kiln run --debug`) pipes it;
 * nothing here logs or masks it — the terminal is the user's own shell, not part of the job's log.
 *
 * Call order: openDebugShell → (write / read / resize)* → exit settles when the shell ends →
 * close() (idempotent; kills nothing in the container but the shell's connection, so a closed
 * page leaves the container running).
 */
import type { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { randomBytes } from 'node:crypto';
import { debugShellCommand, hangUpCommand, KEEP_MARGIN_MS, KEEP_UNTIL_FILE, keepUntilCommand } from './step-script.js';
import { dockerMessage, execCapture, statusCodeOf } from './containers.js';

export interface DebugShell {
  /** Raw bytes: what is written goes to the shell's TTY, what is read is its screen output. */
  readonly stream: Duplex;
  resize(cols: number, rows: number): Promise<void>;
  /** The shell's exit code once it ended (-1 when unknown: the container went away). */
  readonly exit: Promise<number>;
  close(): void;
}

/** The container is gone (removed by its deadline, or by hand): the terminal says so. */
export class ContainerGoneError extends Error {
  constructor(containerId: string) {
    super(`the kept container ${containerId.slice(0, 12)} no longer exists (it was removed, or Docker lost it)`);
    this.name = 'ContainerGoneError';
  }
}

/**
 * Why a kept container can no longer hold a shell, or undefined while it is up (or Docker cannot
 * be asked right now: an unreachable engine is not a vanished container, the next check asks again).
 */
export async function containerProblem(docker: Dockerode, containerId: string, settleMs = 300): Promise<string | undefined> {
  const container = docker.getContainer(containerId);
  try {
    if ((await container.inspect()).State.Running) return undefined;
    // `docker rm -f` kills, then removes: a moment later a removed container is no longer there.
    await new Promise((r) => setTimeout(r, settleMs));
    if ((await container.inspect()).State.Running) return undefined;
    return `the kept container ${containerId.slice(0, 12)} stopped (Docker restarted, or it was stopped by hand)`;
  } catch (err) {
    return statusCodeOf(err) === 404 ? new ContainerGoneError(containerId).message : undefined;
  }
}

export function clampSize(cols: unknown, rows: unknown): { cols: number; rows: number } {
  const n = (v: unknown, d: number, max: number): number => {
    const x = Math.floor(Number(v));
    return Number.isFinite(x) && x >= 1 ? Math.min(x, max) : d;
  };
  return { cols: n(cols, 80, 1000), rows: n(rows, 24, 500) };
}

export async function openDebugShell(docker: Dockerode, containerId: string, size: { cols: number; rows: number }): Promise<DebugShell> {
  const container = docker.getContainer(containerId);
  const shell = debugShellCommand(randomBytes(4).toString('hex'));
  let exec: Dockerode.Exec;
  try {
    exec = await container.exec({
      Cmd: shell.cmd,
      // No COLUMNS/LINES: busybox prefers them to the TTY's size, and a resize could not change them.
      Env: ['TERM=xterm-256color'],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: true,
    });
  } catch (err) {
    const code = statusCodeOf(err);
    if (code === 404 || code === 409) throw new ContainerGoneError(containerId);
    throw new Error(`cannot start a shell in the kept container: ${dockerMessage(err)}`);
  }
  const stream = (await exec.start({ hijack: true, stdin: true, Tty: true })) as Duplex;
  const resize = async (cols: number, rows: number): Promise<void> => {
    const s = clampSize(cols, rows);
    try {
      await exec.resize({ w: s.cols, h: s.rows });
    } catch {
      // The shell may have exited a moment ago: nothing to resize.
    }
  };
  await resize(size.cols, size.rows);
  const exit = new Promise<number>((resolve) => {
    const done = (): void => {
      exec.inspect().then((i) => resolve(i.ExitCode ?? -1), () => resolve(-1));
    };
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', done);
  });
  return {
    stream, resize, exit,
    close() {
      stream.destroy();
      // Without a hang-up the shell (and what runs in it) would outlive its terminal.
      execCapture(container, hangUpCommand(shell.pidFile)).catch(() => undefined);
    },
  };
}

/**
 * Sets when the kept container ends by itself (step-script.ts KEEP_ALIVE): `deadlineInMs` from now
 * plus KEEP_MARGIN_MS, by the container's clock. Called when a job is kept and on every extension;
 * within the margin this Kiln (or the next one started) removes the container at the deadline.
 */
export async function setKeepUntil(docker: Dockerode, containerId: string, deadlineInMs: number): Promise<void> {
  const r = await execCapture(docker.getContainer(containerId), keepUntilCommand(deadlineInMs + KEEP_MARGIN_MS));
  if (r.exitCode !== 0) throw new Error(`writing ${KEEP_UNTIL_FILE} in the kept container failed (exit ${r.exitCode}): ${r.stderr.toString('utf8').trim().slice(0, 200)}`);
}
