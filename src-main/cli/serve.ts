/**
 * `kiln serve [--config FILE] [--data DIR] [--port N] [--host H]` — the headless engine: webhooks,
 * HTTP API, SSE live logs, badges and the dashboard, plus the smee tunnel when one is configured.
 *
 * Configuration: --config FILE; else ./kiln.config.yml when it exists; else the embedded defaults.
 * Data directory: --data DIR; else $KILN_DATA; else ~/.kiln (one per user, like ~/.docker), so
 * runs survive wherever the command is started from.
 * Stops cleanly on SIGINT/SIGTERM: tunnel, HTTP server, then engine.stop() (running jobs cancelled,
 * containers removed, database closed).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatDiagnostic, hasErrors } from '../../shared/diagnostics.js';
import { loadConfig, CONFIG_FILE } from '../config.js';
import type { KilnConfig } from '../engine-contract.js';

const USAGE = `Usage: kiln serve [--config FILE] [--data DIR] [--port N] [--host H]

  --config FILE  configuration (default ./${CONFIG_FILE} when present, else built-in defaults)
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
    if (!['--config', '--data', '--port', '--host'].includes(name)) return { ok: false, message: `unknown option '${arg}'` };
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
    process.stderr.write(`kiln serve: ${parsed.message}\n\n${USAGE}`);
    return 2;
  }
  const { args } = parsed;
  const configFile = args.config ?? (existsSync(CONFIG_FILE) ? CONFIG_FILE : undefined);
  const loaded = loadConfig(configFile);
  for (const d of loaded.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  if (!loaded.config || hasErrors(loaded.diagnostics)) return 2;
  const config: KilnConfig = {
    ...loaded.config,
    server: { ...loaded.config.server, ...(args.host ? { host: args.host } : {}), ...(args.port !== undefined ? { port: args.port } : {}) },
  };
  const dataDir = resolve(args.data ?? defaultDataDir());

  // Loaded here, not at the top, so that `kiln serve --help` and bad arguments stay instant.
  const { Engine } = await import('../engine.js');
  const { startServer, isLoopback } = await import('../http/app.js');
  const { SmeeTunnel } = await import('../trigger/smee-tunnel.js');

  if (!isLoopback(config.server.host) && !config.server.apiToken) {
    process.stderr.write(`kiln serve: refusing to listen on ${config.server.host} without server.api-token: /api would be open to the network. Set server.api-token in ${configFile ?? CONFIG_FILE}, or bind 127.0.0.1.\n`);
    return 2;
  }

  const engine = await Engine.start({ config, dataDir });
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({ engine, artifacts: engine.artifacts });
  } catch (err) {
    process.stderr.write(`kiln serve: cannot listen on ${config.server.host}:${config.server.port}: ${err instanceof Error ? err.message : String(err)}\n`);
    await engine.stop();
    return 1;
  }
  let tunnel: InstanceType<typeof SmeeTunnel> | undefined;
  if (config.tunnel?.url) {
    tunnel = new SmeeTunnel({
      source: config.tunnel.url,
      target: `${server.url}/webhooks/github`,
      onState: (state) => engine.setTunnelState(state),
      logger: { info: (m) => process.stdout.write(`${m}\n`), error: (m) => process.stderr.write(`${m}\n`) },
    });
    void tunnel.start();
  }
  process.stdout.write(`kiln serve: listening on ${server.url} (data ${dataDir}, config ${configFile ?? 'built-in defaults'}, ${config.repositories.length} repositories)\n`);
  if (tunnel) process.stdout.write(`kiln serve: forwarding ${config.tunnel?.url} to ${server.url}/webhooks/github\n`);

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`kiln serve: ${signal}, stopping…\n`);
      void (async () => {
        try {
          await tunnel?.stop();
          await server.close();
          await engine.stop();
          resolveExit(0);
        } catch (err) {
          process.stderr.write(`kiln serve: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
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
