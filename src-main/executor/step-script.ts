/**
 * The fixed shell snippets the executor runs in a job container. None of them contains a value
 * from the pipeline or the event: the user's script reaches the shell as data (an environment
 * variable, or a file for very large scripts), and every other value as an environment variable
 * or a positional argument. So a branch named `x;$(touch${IFS}/tmp/pwned)` is never code.
 *
 * The step wrapper records its PID ($$) first: each `docker exec` process is its own session and
 * process-group leader, so `kill -TERM -<pid>` from a second exec reaches every process of the
 * step (the user's shell and its children), with no host PID needed (remote engines work too).
 */

/** Kiln's own files inside the job container (pid files, $KILN_ENV files, large scripts). */
export const KILN_DIR = '/kiln';
export const WORKSPACE = '/workspace';

/** Scripts up to this size travel in an environment variable (Linux caps one at 128 KiB). */
export const MAX_INLINE_SCRIPT_BYTES = 64 * 1024;

/** The variable carrying an inline script; the wrapper unsets it before the user's shell starts. */
export const SCRIPT_VARIABLE = 'KILN_STEP_SCRIPT';

export interface StepPaths {
  pidFile: string;
  envFile: string;
  /** $KILN_OUTPUT: the step's outputs (name=value lines), read after the step. */
  outputFile: string;
  scriptFile: string;
}

export function stepPaths(index: number): StepPaths {
  return {
    pidFile: `${KILN_DIR}/step-${index}.pid`,
    envFile: `${KILN_DIR}/env-${index}`,
    outputFile: `${KILN_DIR}/output-${index}`,
    scriptFile: `${KILN_DIR}/step-${index}.sh`,
  };
}

/** Empties $KILN_OUTPUT when the step has one (a retried job reuses no container, but stays safe). */
const EMPTY_OUTPUT = '{ [ -z "$KILN_OUTPUT" ] || : > "$KILN_OUTPUT"; }';
const INLINE_WRAPPER =
  'echo $$ > "$1" && : > "$KILN_ENV" && ' + EMPTY_OUTPUT + ' && kiln_script=$' + SCRIPT_VARIABLE + ' && unset ' + SCRIPT_VARIABLE + ' && exec sh -e -c "$kiln_script" kiln-step';
const FILE_WRAPPER = 'echo $$ > "$1" && : > "$KILN_ENV" && ' + EMPTY_OUTPUT + ' && exec sh -e "$2"';

/** The exec argv of a step: `sh -c <wrapper>` with the pid file (and script file) as arguments. */
export function stepCommand(paths: StepPaths, inline: boolean): string[] {
  return inline ? ['sh', '-c', INLINE_WRAPPER, 'kiln-wrapper', paths.pidFile] : ['sh', '-c', FILE_WRAPPER, 'kiln-wrapper', paths.pidFile, paths.scriptFile];
}

/**
 * Signals a step's whole process group. Waits briefly for the pid file, in case the signal comes
 * right after the step was started; exits 0 when there is nothing (left) to signal.
 */
export function killCommand(paths: StepPaths, signal: 'TERM' | 'KILL'): string[] {
  const script = `i=0; while [ ! -s "$1" ] && [ $i -lt 40 ]; do sleep 0.05; i=$((i+1)); done; [ -s "$1" ] || exit 0; kill -${signal} "-$(cat "$1")" 2>/dev/null; exit 0`;
  return ['sh', '-c', script, 'kiln-kill', paths.pidFile];
}

/** Keeps the job container alive between steps; docker-init (HostConfig.Init) is PID 1 and reaps zombies. */
export const KEEP_ALIVE = ['sh', '-c', 'while :; do sleep 3600; done'];
