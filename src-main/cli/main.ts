/**
 * `kiln` entry point. Commands are imported lazily so that `kiln --version` and `kiln validate`
 * never load Docker, SQLite or Express.
 *
 * Every command module exports `command(argv): Promise<number>` returning the exit code:
 * 0 success, 1 failure (invalid pipeline, failed run), 2 bad input (usage, unreadable file).
 */
import { readFileSync } from 'node:fs';

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

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    process.stdout.write(`kiln ${version()}\n`);
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`kiln: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  const mod = await entry.load();
  return mod.command(rest);
}
