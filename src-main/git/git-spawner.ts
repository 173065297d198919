/**
 * Runs short git commands (`git ls-remote`) from a worker thread instead of the engine's own.
 *
 * Why: Node's spawn is synchronous until the child has exec'd (libuv forks, then waits on a pipe
 * for the exec), so each git call stalls the calling event loop — for milliseconds on an idle
 * machine, for tens of milliseconds on a loaded one. A catch-up pass spawns one process per
 * repository; from the main thread, 100 repositories would show up as event-loop delays in every
 * webhook, API call and log stream meanwhile. The worker takes those stalls instead.
 *
 * The git processes run at a lower CPU priority (nice 10) unless asked for in the foreground:
 * listing remotes is background work that must not take the CPU from webhooks, log streams and the
 * UI on a busy workstation.
 *
 * The worker is one per process, created on first use, unref'd (it never keeps the process
 * alive), and its code is inline so it runs the same from TypeScript sources (tests) and from
 * compiled output. If it cannot start, calls fall back to execFile on the calling thread.
 */
import { execFile } from 'node:child_process';
import { Worker } from 'node:worker_threads';

export interface GitResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  /** The error's message when !ok; `timedOut` when it was killed after `timeoutMs`. */
  message?: string;
  timedOut?: boolean;
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { execFile } = require('node:child_process');
const { setPriority } = require('node:os');
const children = new Map();
parentPort.on('message', ({ id, cancel, args, env, timeoutMs, maxBuffer, foreground }) => {
  if (cancel !== undefined) { children.get(cancel)?.kill('SIGKILL'); return; }
  const child = execFile('git', args, { env, encoding: 'utf8', maxBuffer, timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
    children.delete(id);
    parentPort.postMessage({ id, ok: !err, stdout, stderr, message: err ? err.message : undefined, timedOut: !!(err && err.killed) });
  });
  children.set(id, child);
  // Background work: git yields the CPU to the engine (webhooks, logs, the UI) when both want it.
  try { if (child.pid && !foreground) setPriority(child.pid, 10); } catch {}
});
`;

let worker: Worker | undefined;
let broken = false;
let nextId = 0;
const pending = new Map<number, (r: GitResult) => void>();

function workerFor(): Worker | undefined {
  if (broken) return undefined;
  if (worker) return worker;
  try {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.unref();
    w.on('message', (m: GitResult & { id: number }) => {
      const done = pending.get(m.id);
      pending.delete(m.id);
      done?.(m);
    });
    const fail = (message: string) => {
      if (worker === w) worker = undefined;
      for (const [id, done] of pending) {
        pending.delete(id);
        done({ ok: false, stdout: '', stderr: '', message });
      }
    };
    w.on('error', (err) => fail(`git worker failed: ${err.message}`));
    w.on('exit', () => fail('git worker exited'));
    worker = w;
    return w;
  } catch {
    broken = true;
    return undefined;
  }
}

/**
 * Runs `git <args>` (argv, no shell) with `env`; never rejects. `signal` kills git (the result is a
 * failure). `foreground`: git keeps the normal CPU priority — for work a run waits on (the changed
 * files of a push), not background polling.
 */
export function runGit(args: string[], env: NodeJS.ProcessEnv, options: { timeoutMs: number; maxBuffer?: number; signal?: AbortSignal; foreground?: boolean }): Promise<GitResult> {
  const maxBuffer = options.maxBuffer ?? 256 * 1024 * 1024;
  const w = workerFor();
  if (!w) {
    return new Promise((resolve) => {
      execFile('git', args, { env, encoding: 'utf8', maxBuffer, timeout: options.timeoutMs, killSignal: 'SIGKILL', signal: options.signal }, (err, stdout, stderr) => {
        resolve({ ok: !err, stdout, stderr, message: err?.message, timedOut: Boolean(err && (err as { killed?: boolean }).killed) });
      });
    });
  }
  return new Promise((resolve) => {
    const id = nextId++;
    const signal = options.signal;
    const onAbort = () => w.postMessage({ cancel: id });
    // The caller's signal is often long-lived (a poller's, for the life of the engine): the listener
    // goes when this git ends, or every call would leave one behind (MaxListenersExceededWarning).
    pending.set(id, (r) => {
      signal?.removeEventListener('abort', onAbort);
      resolve(r);
    });
    // Ref'd while a call is pending (a caller awaits it), unref'd again when none is.
    w.ref();
    w.postMessage({ id, args, env: { ...env }, timeoutMs: options.timeoutMs, maxBuffer, foreground: options.foreground === true });
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  }).then((r) => {
    if (pending.size === 0) w.unref();
    return r as GitResult;
  });
}
