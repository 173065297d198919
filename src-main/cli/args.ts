/**
 * The argument handling every `kiln` command shares: node:util parseArgs in strict mode, `--help`,
 * at most one FILE, and usage errors printed as one line, `kiln <command>: message`, plus where the
 * usage is (exit 2): the full usage after every typo would bury the line that matters. parseArgs'
 * own messages are rewritten in that voice, and an unknown flag close to a known one is suggested.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { EventKind } from '../../shared/model/trigger-event.js';

export const EVENTS: readonly EventKind[] = ['push', 'tag', 'pull_request', 'manual', 'schedule'];
export const ZERO_SHA = '0'.repeat(40);

type Options = NonNullable<ParseArgsConfig['options']>;

export type CommandArgs<O extends Options> =
  | { ok: true; values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>['values']; file: string | undefined }
  /** The command is done: help was printed (0) or a usage error was (2). */
  | { ok: false; exitCode: number };

export function usageError(command: string, message: string): number {
  process.stderr.write(`kiln ${command}: ${message}\nrun 'kiln ${command} --help' for usage\n`);
  return 2;
}

/** Edit distance (insertions, deletions, substitutions, swapped neighbours), for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known word `name` is a typo of (a missing, extra, wrong or swapped letter) or a prefix of; undefined when none is close. */
export function nearest(name: string, known: readonly string[]): string | undefined {
  let best: { word: string; d: number } | undefined;
  for (const word of known) {
    const d = word.startsWith(name) && name.length >= 2 ? 0 : distance(name, word);
    if (d <= Math.max(1, Math.floor(word.length / 3)) && (!best || d < best.d)) best = { word, d };
  }
  return best?.word;
}

/** `unknown option '--frob'`, with the nearest known flag when one is close (a typo, or a prefix of it). */
export function unknownOptionMessage(arg: string, known: readonly string[]): string {
  const flag = nearest(arg.replace(/^-+/, '').split('=')[0], known);
  return `unknown option '${arg}'${flag ? ` (did you mean --${flag}?)` : ''}`;
}

/** parseArgs' error, as one line in the CLI's voice. */
function parseErrorMessage(e: Error & { code?: string }, options: Options): string {
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const arg = /Unknown option '([^']+)'/.exec(e.message)?.[1] ?? '?';
    return unknownOptionMessage(arg, Object.keys(options));
  }
  const flag = /Option '(?:-\w, )?(--[\w-]+)/.exec(e.message)?.[1];
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) {
    return /does not take an argument/.test(e.message) ? `${flag} takes no value` : `${flag} needs a value`;
  }
  return e.message.split('\n')[0];
}

/** Parses `argv` for `command`: unknown flags and extra positionals are usage errors; --help prints the usage. */
export function parseCommandArgs<O extends Options>(command: string, usage: string, argv: string[], options: O): CommandArgs<O> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (e) {
    return { ok: false, exitCode: usageError(command, parseErrorMessage(e as Error, options)) };
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(`${usage}\n`);
    return { ok: false, exitCode: 0 };
  }
  if (parsed.positionals.length > 1) {
    return { ok: false, exitCode: usageError(command, `expected at most one FILE, got ${parsed.positionals.length}`) };
  }
  return { ok: true, values: parsed.values, file: parsed.positionals[0] };
}

/** The --event value, or a usage message naming the accepted ones. */
export function parseEvent(value: string | undefined, fallback: EventKind): EventKind | { error: string } {
  const kind = (value ?? fallback) as EventKind;
  return EVENTS.includes(kind) ? kind : { error: `unknown event '${value}' (use ${EVENTS.join(', ')})` };
}
