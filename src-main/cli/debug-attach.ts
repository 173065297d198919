/**
 * `kiln run --debug`: when a step fails, the terminal `kiln run` was started in becomes a shell in
 * the job's container (executor/debug-session.ts), at that point: raw mode (Ctrl-C and every other
 * key go to the container's shell, not to kiln), the window's size followed, and exiting the shell
 * continues the job's teardown. One session at a time: a second failing job waits its turn, and
 * log lines of other jobs are held back while a session owns the terminal.
 */
import type Dockerode from 'dockerode';
import type { JobDebug, KeptJob } from '../core/job-contract.js';
import { openDebugShell } from '../executor/debug-session.js';

export interface TerminalAttach {
  /** The keep-on-failure hooks for one job named `jobName`. */
  jobDebug(jobName: string): JobDebug;
  /** Prints now, or after the current session when one owns the terminal. */
  print(text: string): void;
}

export function terminalAttach(docker: Dockerode, stdin: NodeJS.ReadStream = process.stdin, stdout: NodeJS.WriteStream = process.stdout): TerminalAttach {
  let turn: Promise<unknown> = Promise.resolve();
  let held: string[] | undefined;
  const print = (text: string): void => {
    if (held) held.push(text);
    else stdout.write(text);
  };
  const session = async (jobName: string, kept: KeptJob, signal: AbortSignal): Promise<'remove'> => {
    if (signal.aborted || !kept.containerId) return 'remove';
    held = [];
    stdout.write(`\nkiln run: step '${kept.step.name}' of job '${jobName}' failed; this terminal is now a shell in its container `
      + `(the step's environment, in ${kept.workspace}). Exit the shell to continue.\n`);
    const shell = await openDebugShell(docker, kept.containerId, { cols: stdout.columns || 80, rows: stdout.rows || 24 });
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
      const lines = held;
      held = undefined;
      for (const line of lines) stdout.write(line);
    }
    return 'remove';
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
