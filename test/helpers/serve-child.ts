/**
 * The built `kiln serve` (bin/kiln.js) as a real child process, as users run it: tests that need the
 * CLI itself — its output, its exit code, a SIGKILL at a chosen moment — and not the engine in their
 * own process. `ensureBuilt()` (helpers/build.ts) must have run first.
 *
 * Call order: `startServe` (spawns and waits for the "listening on URL" line) or `spawnServe` (spawns
 * only; then `waitFor` what the test expects); read `out()`/`err()`/`output()` at any time; end with
 * `stop()` (SIGTERM, then the exit code) or `kill()` (SIGKILL, for a crash or a test's cleanup).
 * Both are safe to call after the process has exited, and more than once.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ServeOptions {
  /** What follows `kiln serve`, e.g. `['--config', file, '--data', dir, '--port', '0']`. */
  args: readonly string[];
  /** The child's environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** A command that runs node for us, e.g. `['nsenter', '--net=/var/run/netns/x']`. */
  wrapper?: readonly string[];
}

export interface ServeChild {
  readonly child: ChildProcess;
  /** Everything on stdout so far. */
  out(): string;
  /** Everything on stderr so far. */
  err(): string;
  /** Both streams so far, in the order they arrived. */
  output(): string;
  /** Resolves with the exit code once the process has exited (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /**
   * Resolves with the first match of `pattern` in `output()`, polled every `everyMs`; rejects when
   * the process exits first or `timeoutMs` passes, with what it printed.
   */
  waitFor(pattern: RegExp, timeoutMs: number, everyMs?: number): Promise<RegExpExecArray>;
  /** SIGTERM (when still running), then the exit code; after `graceMs` without an exit, SIGKILL. */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL, when still running; does not wait. */
  kill(): void;
}

export interface ListeningServe extends ServeChild {
  /** The URL from the "listening on" line, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
}

const LISTENING = /listening on (http:\/\/\S+)/;

/** Spawns `kiln serve` and collects its output; does not wait for anything. */
export function spawnServe(o: ServeOptions): ServeChild {
  const [command, ...prefix] = [...(o.wrapper ?? []), process.execPath];
  const child = spawn(command, [...prefix, 'bin/kiln.js', 'serve', ...o.args], { stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? process.env });
  let out = '';
  let err = '';
  let output = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); output += c.toString(); });
  child.stderr?.on('data', (c: Buffer) => { err += c.toString(); output += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    child, exited,
    out: () => out,
    err: () => err,
    output: () => output,
    async waitFor(pattern, timeoutMs, everyMs = 50) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(output);
        if (match) return match;
        if (!running()) throw new Error(`kiln serve exited (${String(child.exitCode ?? child.signalCode)}) before printing ${String(pattern)}; it printed:\n${output}`);
        if (Date.now() > deadline) throw new Error(`kiln serve printed no ${String(pattern)} within ${timeoutMs / 1000} s; it printed:\n${output}`);
        await new Promise((r) => setTimeout(r, everyMs));
      }
    },
    async stop(graceMs) {
      if (running()) child.kill('SIGTERM');
      if (graceMs === undefined) return exited;
      const timer = new Promise<'late'>((r) => { setTimeout(() => r('late'), graceMs).unref(); });
      if ((await Promise.race([exited, timer])) === 'late' && running()) child.kill('SIGKILL');
      return exited;
    },
    kill() {
      if (running()) child.kill('SIGKILL');
    },
  };
}

/**
 * Spawns `kiln serve` and resolves once it printed the URL it listens on. `timeoutMs` only bounds a
 * start that never comes (on a loaded machine a start on a full disk took more than 30 s).
 */
export async function startServe(o: ServeOptions & { timeoutMs?: number }): Promise<ListeningServe> {
  const s = spawnServe(o);
  try {
    const url = (await s.waitFor(LISTENING, o.timeoutMs ?? 30_000))[1];
    return Object.assign(s, { url, port: Number(new URL(url).port) });
  } catch (e) {
    s.kill();
    throw e;
  }
}
