/**
 * `kiln serve [--config FILE] [--data DIR] [--port N] [--host H]` — the headless engine: webhooks,
 * HTTP API, SSE live logs, badges and the dashboard, plus the smee tunnel when one is configured.
 *
 * Configuration: --config FILE; else ./kiln.config.yml when it exists; else <data>/kiln.config.yml
 * when it exists (the file the settings page creates); else the embedded defaults. Settings saved
 * from the dashboard are written back to that same file (or create <data>/kiln.config.yml).
 * Data directory: --data DIR; else $KILN_DATA; else ~/.kiln (one per user, like ~/.docker), so
 * runs survive wherever the command is started from.
 * Stops cleanly on SIGINT/SIGTERM: tunnel, HTTP server, then engine.stop() (running jobs cancelled,
 * containers removed, database closed).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatDiagnostic, hasErrors } from '../../shared/diagnostics.js';
import { DOCKER_ADVICE } from '../../shared/docker-advice.js';
import { loadConfig, CONFIG_FILE } from '../settings/config-file.js';
import type { KilnConfig } from '../core/engine-contract.js';
import { errorLine } from '../core/error-line.js';
import { formatClock } from '../../shared/format.js';
import type { EngineApi } from '../../shared/api/engine-api.js';
import { unknownOptionMessage, usageError } from './args.js';

const USAGE = `Usage: kiln serve [--config FILE] [--data DIR] [--port N] [--host H]

  --config FILE  configuration (default ./${CONFIG_FILE} when present, else DIR/${CONFIG_FILE}
                 when present, else built-in defaults); the settings page saves to it
  --data DIR     data directory: database, logs, artifacts, caches (default $KILN_DATA or ~/.kiln)
  --port N       HTTP port (default server.port, 7070; 0 picks a free port)
  --host H       address to bind (default server.host, 127.0.0.1; others need server.api-token)
`;

interface ServeArgs {
  config?: string;
  data?: string;
  port?: number;
  host?: string;
}

type Parsed = { ok: true; args: ServeArgs } | { ok: false; message: string } | { ok: 'help' };

export function parseServeArgs(argv: string[]): Parsed {
  const args: ServeArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return { ok: 'help' };
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!['--config', '--data', '--port', '--host'].includes(name)) return { ok: false, message: unknownOptionMessage(arg, ['config', 'data', 'port', 'host', 'help']) };
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') return { ok: false, message: `${name} needs a value` };
    if (name === '--port') {
      if (!/^\d+$/.test(value) || Number(value) > 65535) return { ok: false, message: `--port must be a port number (0-65535), got '${value}'` };
      args.port = Number(value);
    } else {
      args[name.slice(2) as 'config' | 'data' | 'host'] = value;
    }
  }
  return { ok: true, args };
}

/** --config; else ./kiln.config.yml; else the one the settings page wrote into the data directory; else none (defaults). */
export function configFileToLoad(explicit: string | undefined, dataDir: string): string | undefined {
  if (explicit !== undefined) return explicit;
  if (existsSync(CONFIG_FILE)) return CONFIG_FILE;
  const saved = join(dataDir, CONFIG_FILE);
  return existsSync(saved) ? saved : undefined;
}

/**
 * One line for a start without a reachable Docker engine: where Kiln looked, why it failed, and how
 * to fix it. Kiln keeps serving (the dashboard, the API and webhooks work; the dashboard's Docker
 * indicator shows the state); jobs cannot run until Docker answers.
 */
/** The start-up line (test helpers wait for its "listening on URL"). */
export function listeningLine(url: string, dataDir: string, configFile: string | undefined, repositories: number, everyInterface = false): string {
  return `kiln serve: listening on ${url}${everyInterface ? ' and every other interface' : ''} (data ${dataDir}, config ${configFile ?? 'built-in defaults'}, ${repositories} ${repositories === 1 ? 'repository' : 'repositories'})`;
}

export function dockerUnreachableLine(message: string | undefined, dockerHost = process.env.DOCKER_HOST, found?: { engine?: string; tried?: string[] }): string {
  let where = dockerHost ? `DOCKER_HOST=${dockerHost}` : process.platform === 'win32' ? '//./pipe/docker_engine' : '/var/run/docker.sock';
  // A Docker context chose the engine: name it, and what was looked at before it.
  if (!dockerHost && found?.engine && !found.engine.endsWith('from the default socket)')) where = found.engine;
  const why = (message ?? 'no answer').replace(/^Docker engine not reachable:\s*/, '').replace(/\s+/g, ' ').slice(0, 200);
  const tried = !dockerHost && found?.tried?.length ? ` [looked at: ${found.tried.join('; ')}]` : '';
  return `kiln serve: no Docker engine is reachable at ${where} (${why})${tried}, so jobs cannot run until one is: `
    + `${DOCKER_ADVICE}; `
    + 'Kiln keeps serving meanwhile and the dashboard shows Docker\'s state';
}

export function defaultDataDir(): string {
  return process.env.KILN_DATA || join(homedir(), '.kiln');
}

export async function command(argv: string[]): Promise<number> {
  const parsed = parseServeArgs(argv);
  if (parsed.ok === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!parsed.ok) {
    return usageError('serve', parsed.message);
  }
  const { args } = parsed;
  const dataDir = resolve(args.data ?? defaultDataDir());
  const configFile = configFileToLoad(args.config, dataDir);
  const loaded = loadConfig(configFile);
  for (const d of loaded.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  if (!loaded.config || hasErrors(loaded.diagnostics)) return 2;
  const config: KilnConfig = {
    ...loaded.config,
    server: { ...loaded.config.server, ...(args.host ? { host: args.host } : {}), ...(args.port !== undefined ? { port: args.port } : {}) },
  };

  // Loaded here, not at the top, so that `kiln serve --help` and bad arguments stay instant.
  const { Engine } = await import('../engine/engine.js');
  const { startServer, isLoopback } = await import('../http/app.js');
  const { controlTunnel } = await import('../trigger/tunnel-control.js');

  if (!isLoopback(config.server.host) && !config.server.apiToken) {
    process.stderr.write(`kiln serve: refusing to listen on ${config.server.host} without server.api-token: /api would be open to the network. Set server.api-token in ${configFile ?? CONFIG_FILE}, or bind 127.0.0.1.\n`);
    return 2;
  }

  let engine: Awaited<ReturnType<typeof Engine.start>>;
  try {
    engine = await Engine.start({ config, dataDir, configFile: configFile ? resolve(configFile) : undefined });
  } catch (err) {
    process.stderr.write(`${errorLine('kiln serve: cannot start the engine', err)}\n`);
    return 1;
  }
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({ engine, artifacts: engine.artifacts });
  } catch (err) {
    process.stderr.write(`${errorLine(`kiln serve: cannot listen on ${config.server.host}:${config.server.port}`, err)}\n`);
    await engine.stop();
    return 1;
  }
  process.stdout.write(`${listeningLine(server.url, dataDir, configFile, config.repositories.length, ['0.0.0.0', '::'].includes(config.server.host))}\n`);
  const { docker } = await engine.health();
  if (!docker.ok) process.stderr.write(`${dockerUnreachableLine(docker.message, process.env.DOCKER_HOST, docker)}\n`);
  else if (docker.engine) process.stdout.write(`kiln serve: jobs run on the Docker engine ${docker.engine}\n`);
  // Follows the settings page: a new tunnel URL reconnects, a removed one disconnects.
  const tunnel = controlTunnel(engine, {
    target: `${server.url}/webhooks/github`,
    logger: { info: (m) => process.stdout.write(`${m}\n`), error: (m) => process.stderr.write(`${m}\n`) },
    onStarted: (url) => process.stdout.write(`kiln serve: forwarding ${url} to ${server.url}/webhooks/github\n`),
  });

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`kiln serve: ${signal}, stopping…\n`);
      void (async () => {
        try {
          // Read before the stop: what becomes of the jobs it interrupts is said once it is done.
          const fates = await jobFates(engine);
          await tunnel.stop();
          await server.close();
          await engine.stop();
          for (const line of fates) process.stdout.write(`kiln serve: ${line}\n`);
          process.stdout.write('kiln serve: stopped\n');
          resolveExit(0);
        } catch (err) {
          process.stderr.write(`${errorLine('kiln serve: shutdown failed', err)}\n`);
          resolveExit(1);
        } finally {
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
        }
      })();
    };
    const onInt = (): void => stop('SIGINT');
    const onTerm = (): void => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}

/**
 * What a stop does to the jobs in flight, one line per kind: running jobs go back to the queue
 * (their attempt not counted) and start again on the next start; jobs kept for debugging keep
 * their containers, and the next start adopts them until their deadline. Empty when none.
 */
async function jobFates(engine: Pick<EngineApi, 'health' | 'listKeptJobs'>): Promise<string[]> {
  const [health, kept] = await Promise.all([engine.health().catch(() => undefined), engine.listKeptJobs().catch(() => [])]);
  const live = kept.filter((k) => k.state !== 'stranded');
  const handedBack = Math.max(0, (health?.queue.running ?? 0) - live.length);
  const out: string[] = [];
  const jobs = (n: number): string => `${n} ${n === 1 ? 'job' : 'jobs'}`;
  if (handedBack > 0) out.push(`${jobs(handedBack)} running: handed back to the queue, ${handedBack === 1 ? 'it starts' : 'they start'} again when Kiln starts`);
  if (live.length > 0) {
    const last = Math.max(...live.map((k) => k.deadline));
    out.push(`${jobs(live.length)} kept for debugging: ${live.length === 1 ? 'its container stays' : 'their containers stay'} up; Kiln adopts ${live.length === 1 ? 'it' : 'them'} when it starts (until ${formatClock(last)} at the latest)`);
  }
  return out;
}
