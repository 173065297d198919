/**
 * `kiln run --debug`: when a step fails, the terminal `kiln run` was started in becomes a shell in
 * the job's container (executor/debug-session.ts), at that point: raw mode (Ctrl-C and every other
 * key go to the container's shell, not to kiln), the window's size followed, and exiting the shell
 * continues the job's teardown. One session at a time: a second failing job waits its turn, and
 * log lines of other jobs are held back while a session owns the terminal.
 */
import type Dockerode from 'dockerode';
import type { JobDebug, KeptJob } from '../core/job-contract.js';
import { openDebugShell, type DebugShell } from '../executor/debug-session.js';

export interface TerminalAttach {
  /** The keep-on-failure hooks for one job named `jobName`. */
  jobDebug(jobName: string): JobDebug;
  /** Prints now, or after the current session when one owns the terminal. */
  print(text: string): void;
}

/** Opens the shell; a seam so that a test can stand in for Docker refusing one. */
export type OpenShell = (docker: Dockerode, containerId: string, size: { cols: number; rows: number }) => Promise<DebugShell>;

export function terminalAttach(
  docker: Dockerode, stdin: NodeJS.ReadStream = process.stdin, stdout: NodeJS.WriteStream = process.stdout, open: OpenShell = openDebugShell,
): TerminalAttach {
  let turn: Promise<unknown> = Promise.resolve();
  let held: string[] | undefined;
  const print = (text: string): void => {
    if (held) held.push(text);
    else stdout.write(text);
  };
  /** Prints what was held back while a session owned the terminal, then prints directly again. */
  const release = (): void => {
    const lines = held ?? [];
    held = undefined;
    for (const line of lines) stdout.write(line);
  };
  const session = async (jobName: string, kept: KeptJob, signal: AbortSignal): Promise<'remove'> => {
    if (signal.aborted || !kept.containerId) return 'remove';
    held = [];
    try {
      stdout.write(`\nkiln run: step '${kept.step.name}' of job '${jobName}' failed; this terminal is now a shell in its container `
        + `(the step's environment, in ${kept.workspace}). Exit the shell to continue.\n`);
      let shell: DebugShell;
      try {
        shell = await open(docker, kept.containerId, { cols: stdout.columns || 80, rows: stdout.rows || 24 });
      } catch (err) {
        // The job's teardown goes on without a shell; what other jobs printed meanwhile follows.
        stdout.write(`kiln run: cannot open a shell in the container of job '${jobName}' (${err instanceof Error ? err.message : String(err)}); tearing the job down\n`);
        return 'remove';
      }
      await attach(shell, jobName, signal);
      return 'remove';
    } finally {
      release();
    }
  };
  const attach = async (shell: DebugShell, jobName: string, signal: AbortSignal): Promise<void> => {
    const onInput = (chunk: Buffer): void => { shell.stream.write(chunk); };
    const onResize = (): void => { void shell.resize(stdout.columns || 80, stdout.rows || 24); };
    const onAbort = (): void => shell.close();
    shell.stream.on('data', (chunk: Buffer) => stdout.write(chunk));
    stdin.setRawMode?.(true);
    stdin.on('data', onInput);
    stdin.resume();
    stdout.on('resize', onResize);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const code = await shell.exit;
      stdout.write(`\r\nkiln run: the shell exited${code >= 0 ? ` (${code})` : ''}; tearing down job '${jobName}'\n`);
    } finally {
      signal.removeEventListener('abort', onAbort);
      stdout.off('resize', onResize);
      stdin.off('data', onInput);
      stdin.setRawMode?.(false);
      stdin.pause();
      shell.close();
    }
  };
  return {
    print,
    jobDebug(jobName) {
      return {
        keepsFailure: () => true,
        hold: (kept, signal) => {
          const mine = turn.then(() => session(jobName, kept, signal)).catch((err: unknown) => {
            stdout.write(`kiln run: cannot open a shell in the job's container: ${err instanceof Error ? err.message : String(err)}\n`);
            return 'remove' as const;
          });
          turn = mine;
          return mine;
        },
      };
    },
  };
}
