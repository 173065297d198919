/**
 * The argument handling every `kiln` command shares: node:util parseArgs in strict mode, `--help`,
 * at most one FILE, and usage errors printed as `kiln <command>: message` plus the usage (exit 2).
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

export function usageError(command: string, usage: string, message: string): number {
  process.stderr.write(`kiln ${command}: ${message}\n\n${usage}\n`);
  return 2;
}

/** Parses `argv` for `command`: unknown flags and extra positionals are usage errors; --help prints the usage. */
export function parseCommandArgs<O extends Options>(command: string, usage: string, argv: string[], options: O): CommandArgs<O> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (e) {
    return { ok: false, exitCode: usageError(command, usage, (e as Error).message) };
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(`${usage}\n`);
    return { ok: false, exitCode: 0 };
  }
  if (parsed.positionals.length > 1) {
    return { ok: false, exitCode: usageError(command, usage, `expected at most one FILE, got ${parsed.positionals.length}`) };
  }
  return { ok: true, values: parsed.values, file: parsed.positionals[0] };
}

/** The --event value, or a usage message naming the accepted ones. */
export function parseEvent(value: string | undefined, fallback: EventKind): EventKind | { error: string } {
  const kind = (value ?? fallback) as EventKind;
  return EVENTS.includes(kind) ? kind : { error: `unknown event '${value}' (use ${EVENTS.join(', ')})` };
}
