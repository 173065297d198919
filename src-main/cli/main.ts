/**
 * `kiln` entry point. Commands are imported lazily so that `kiln --version` and `kiln validate`
 * never load Docker, SQLite or Express.
 *
 * Every command module exports `command(argv): Promise<number>` returning the exit code:
 * 0 success, 1 failure (invalid pipeline, failed run), 2 bad input (usage, unreadable file).
 * `kiln --help` prints the usage (exit 0); `kiln` alone prints it on stderr (exit 2: nothing was asked
 * for); an unknown command is one line with the nearest command (exit 2).
 */
import { readFileSync } from 'node:fs';
import { nearest } from './args.js';

type CommandModule = { command(argv: string[]): Promise<number> };

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  validate: { summary: 'check a pipeline file; one FILE:LINE:COL: message line per problem', load: () => import('./validate.js') },
  plan: { summary: 'show the expanded plan for an event (--event --branch --tag --sha [--json])', load: () => import('./plan.js') },
  run: { summary: 'run a pipeline once on the local Docker engine', load: () => import('./run.js') },
  serve: { summary: 'the headless engine: webhooks, HTTP API, dashboard on 127.0.0.1', load: () => import('./serve.js') },
};

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  kiln ${name.padEnd(9)} ${c.summary}`);
  return ['Usage: kiln <command> [options]', '', 'Commands:', ...lines, '', 'kiln <command> --help for its options; kiln --version'].join('\n');
}

/**
 * What `kiln <word>` says when <word> is no command: one line, with the command it is probably a
 * typo of, as a wrong option gets (args.ts). The whole usage would bury the line that matters.
 */
export function unknownCommandMessage(word: string): string {
  const isOption = word.startsWith('-');
  const known = isOption ? ['help', 'version'] : Object.keys(COMMANDS);
  const near = nearest(isOption ? word.replace(/^-+/, '') : word, known);
  const hint = near === undefined ? '' : ` — did you mean "${isOption ? `--${near}` : near}"?`;
  return `kiln: unknown ${isOption ? 'option' : 'command'} "${word}"${hint} (kiln --help lists the commands)`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    process.stdout.write(`kiln ${version()}\n`);
    return 0;
  }
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (name === undefined) {
    // Nothing was asked for, which is a usage error (a script whose command came out empty should
    // fail): the usage is the message, on stderr.
    process.stderr.write(`${usage()}\n`);
    return 2;
  }
  // `kiln help run` is `kiln run --help`.
  const [commandName, commandArgs] = name === 'help' ? [rest[0], ['--help']] : [name, rest];
  const entry = Object.hasOwn(COMMANDS, commandName) ? COMMANDS[commandName] : undefined;
  if (!entry) {
    process.stderr.write(`${unknownCommandMessage(commandName)}\n`);
    return 2;
  }
  const mod = await entry.load();
  return mod.command(commandArgs);
}
