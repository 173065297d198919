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
  summaryFile: string;
  /** $KILN_OUTPUT: the step's outputs (name=value lines), read after the step. */
  outputFile: string;
  scriptFile: string;
}

export function stepPaths(index: number): StepPaths {
  return {
    pidFile: `${KILN_DIR}/step-${index}.pid`,
    envFile: `${KILN_DIR}/env-${index}`,
    summaryFile: `${KILN_DIR}/summary-${index}.md`,
    outputFile: `${KILN_DIR}/output-${index}`,
    scriptFile: `${KILN_DIR}/step-${index}.sh`,
  };
}

// $KILN_SUMMARY and $KILN_OUTPUT are created empty too when set (a caller without them leaves them unset).
const FILES = 'echo $$ > "$1" && : > "$KILN_ENV" && { [ -z "$KILN_SUMMARY" ] || : > "$KILN_SUMMARY"; } && { [ -z "$KILN_OUTPUT" ] || : > "$KILN_OUTPUT"; }';
const INLINE_WRAPPER =
  FILES + ' && kiln_script=$' + SCRIPT_VARIABLE + ' && unset ' + SCRIPT_VARIABLE + ' && exec sh -e -c "$kiln_script" kiln-step';
const FILE_WRAPPER = FILES + ' && exec sh -e "$2"';

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

/** A kept job's environment for its debug shell and step re-runs (`export K='v'` lines, mode 0600). */
export const DEBUG_ENV_FILE = `${KILN_DIR}/debug-env`;

/** A name a POSIX shell can hold as a variable; only these are exported by the debug environment file. */
export const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const quoted = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/**
 * One `export` line per variable, values single-quoted, so `.` of the file restores them exactly.
 * Only shell names are exported: a key like `spring.profiles.active` (Docker and the step accept it)
 * would make sh stop at `export` and the shell never open, and a key is never written as code. The
 * others are named in one line the shell prints when it starts (sh and bash drop such names from
 * their environment anyway), without their values.
 */
export function exportLines(env: Record<string, string>): string {
  const entries = Object.entries(env);
  const lines = entries.filter(([k]) => SHELL_NAME.test(k)).map(([k, v]) => `export ${k}=${quoted(v)}\n`);
  const others = entries.map(([k]) => k).filter((k) => !SHELL_NAME.test(k));
  if (others.length > 0) {
    // Printable characters only: a name must not drive the terminal.
    const names = others.map((k) => k.replace(/[^\x20-\x7e]/g, '?')).join(', ');
    const shown = names.length > 300 ? `${names.slice(0, 300)}...` : names;
    lines.push(`printf '%s\\n' ${quoted(`kiln: not in this shell's environment (names a shell cannot hold): ${shown}`)} >&2\n`);
  }
  return lines.join('');
}

/** Sources the kept environment, or says in one line why this shell lacks it (never silently). */
const LOAD_ENV = 'if [ -r "$1" ]; then . "$1"; else echo "kiln: cannot read $1 as user $(id -u 2>/dev/null):$(id -g 2>/dev/null): this shell lacks the failing step\'s environment" >&2; fi';

/**
 * The debug shell: records its PID (a closed terminal hangs up its process group), the kept step's
 * environment, its workspace, then bash when the image has it, else sh. `$1` is the environment
 * file, `$2` the pid file.
 */
export function debugShellCommand(id: string): { cmd: string[]; pidFile: string } {
  const pidFile = `${KILN_DIR}/debug-shell-${id}.pid`;
  const script = '{ mkdir -p "${2%/*}" && echo $$ > "$2"; } 2>/dev/null; ' + LOAD_ENV + '; cd "${KILN_WORKSPACE:-/workspace}" 2>/dev/null; if command -v bash >/dev/null 2>&1; then exec bash; fi; exec sh';
  return { cmd: ['sh', '-c', script, 'kiln-debug', DEBUG_ENV_FILE, pidFile], pidFile };
}

/** Hangs up a debug shell's process group (the terminal closed), then forgets its pid file. */
export function hangUpCommand(pidFile: string): string[] {
  return ['sh', '-c', '[ -s "$1" ] && kill -HUP "-$(cat "$1")" 2>/dev/null; rm -f "$1"; exit 0', 'kiln-hangup', pidFile];
}

/**
 * Where a kept job's container keeps its own end: the container's clock time (epoch seconds) past
 * which its keep-alive ends. Written when the job is kept and again on every extension, as "now +
 * seconds" by the container's own clock (neither Kiln's clock nor a remote engine's skew matters).
 */
export const KEEP_UNTIL_FILE = `${KILN_DIR}/keep-until`;
/** How long a kept container outlives its deadline when no Kiln removes it (Kiln not running). */
export const KEEP_MARGIN_MS = 10 * 60_000;

/**
 * Keeps the job container alive between steps; docker-init (HostConfig.Init) is PID 1 and reaps
 * zombies. Once KEEP_UNTIL_FILE exists (the job is kept for debugging) and its time has passed, it
 * removes the kept environment file (the step's secrets) and ends, which stops the container: a
 * kept container never outlives its deadline by more than the margin, even with no Kiln running.
 */
export const KEEP_ALIVE = ['sh', '-c',
  `while :; do if [ -s ${KEEP_UNTIL_FILE} ] && [ "$(date +%s)" -ge "$(cat ${KEEP_UNTIL_FILE})" ] 2>/dev/null; then rm -f ${DEBUG_ENV_FILE}; exit 0; fi; sleep 10; done`];

/** Writes KEEP_UNTIL_FILE as the container's now + `$1` seconds (the deadline plus KEEP_MARGIN_MS). */
export function keepUntilCommand(remainingMs: number): string[] {
  const seconds = Math.max(0, Math.ceil(remainingMs / 1000));
  return ['sh', '-c', 'mkdir -p "${2%/*}" && echo $(( $(date +%s) + $1 )) > "$2.tmp" && mv -f "$2.tmp" "$2"', 'kiln-keep-until', String(seconds), KEEP_UNTIL_FILE];
}

/** Exits 0 while the container is kept for debugging by its KEEP_UNTIL_FILE (another instance's reaper asks). */
export const KEPT_CHECK = ['sh', '-c', '[ -s "$1" ] && [ "$(date +%s)" -lt "$(cat "$1")" ] 2>/dev/null', 'kiln-kept', KEEP_UNTIL_FILE];
