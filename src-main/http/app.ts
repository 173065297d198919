/**
 * The HTTP face of the engine (`kiln serve`, and the desktop app's embedded listener):
 *   POST /webhooks/github           public, signed deliveries (webhook-receiver.ts)
 *   GET  /badges/:owner/:repo.svg   public, status badges (badges.ts)
 *   --- everything below passes the local guard (local-guard.ts): Host allow-list, Origin, session secret
 *   /api/…                          the JSON API and SSE (api-routes.ts); needs a bearer token (or a
 *                                   one-time ticket, api-tickets.ts) for a request from beyond loopback:
 *                                   any, when the server listens beyond it; else one that came by a
 *                                   non-loopback name or through a proxy (token-rule.ts)
 *   /api/jobs/:id/terminal          WebSocket into a job kept for debugging (terminal-ws.ts)
 *   everything else                 the React UI from dist-renderer/, SPA fallback to index.html
 *                                   (with the session secret in a <meta> tag)
 * No route sends CORS headers: no other origin may read an answer.
 */
import express from 'express';
import type { Express, NextFunction, Request, Response } from 'express';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../../shared/api/engine-api.js';
import type { KilnEngine } from '../core/engine-contract.js';
import { WebhookReceiver } from '../trigger/webhook-receiver.js';
import { apiErrorHandler, apiRoutes } from './api-routes.js';
import { apiTickets, type ApiTickets } from './api-tickets.js';
import { isLoopbackName, tokenRule, tokenWarning } from './token-rule.js';
import type { ArtifactSource } from './api-routes.js';
import { badgeStateOf, BADGE_COLORS, etagMatches, etagOf, renderBadge } from './badges.js';
import { checkRequest, loadSessionSecret, localGuard, withSessionMeta, type LocalGuardOptions } from './local-guard.js';
import type { SseConnection } from './sse.js';
import { refuseUpgrade, terminalSockets } from './terminal-ws.js';

export interface ServerOptions {
  engine: KilnEngine;
  /** Default: engine.config.server.host (127.0.0.1). */
  host?: string;
  /** Default: engine.config.server.port (7070); 0 picks a free port. */
  port?: number;
  /** The built renderer; default dist-renderer/ of this package when it exists. */
  staticDir?: string;
  artifacts?: ArtifactSource;
  /** The webhook receiver's clock (replay windows, stale checks, rate limits). */
  now?: () => number;
  /** Where start-up warnings go (default: stderr). */
  warn?: (line: string) => void;
}

export interface RunningServer {
  /** http://host:port, without a trailing slash; on loopback when bound to every interface. */
  url: string;
  port: number;
  /**
   * The terminal WebSocket URL into a kept job with a one-time ticket in place of Origin and token,
   * for the desktop app's page (asked through IPC); undefined when the engine has no terminals.
   */
  terminalUrl?(jobId: string): string;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 5 * 1024 * 1024;

/**
 * The UI's Content-Security-Policy: nothing but this origin; no inline scripts, no framing. Images may
 * be https (a job summary's, only once the reader allowed remote images: the renderer drops them otherwise).
 */
export const UI_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data: https:",
  "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'",
].join('; ');
const BADGE_CSP = "default-src 'none'; style-src 'unsafe-inline'";

export function isLoopback(host: string): boolean {
  return isLoopbackName(host);
}

/**
 * Builds the express app. `streams` collects live SSE connections for shutdown. Throws when `host`
 * is not loopback and no server.apiToken is configured.
 */
export function createApp(options: Omit<ServerOptions, 'port'> & { host: string; streams?: Set<SseConnection>; tickets?: ApiTickets }): Express {
  const { engine } = options;
  const boundBeyondLoopback = !isLoopback(options.host);
  if (boundBeyondLoopback && !engine.config.server.apiToken) {
    throw new Error(`server.host is ${options.host}, which is reachable beyond this machine: set server.api-token in the configuration (clients then send Authorization: Bearer <token>), or bind 127.0.0.1`);
  }
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });

  const receiver = new WebhookReceiver({ engine, now: options.now });
  const maxBody = engine.config.webhooks.maxBodyBytes || DEFAULT_MAX_BODY;
  app.post('/webhooks/github', express.raw({ type: () => true, limit: maxBody }), async (req: Request, res: Response) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const answer = await receiver.receive(req.headers, body);
    for (const [k, v] of Object.entries(answer.headers ?? {})) res.setHeader(k, v);
    res.status(answer.status).json(answer.body);
  });
  app.use('/webhooks', async (err: unknown, req: Request, res: Response, next: NextFunction) => {
    const type = typeof err === 'object' && err !== null && 'type' in err ? String(err.type) : '';
    if (type !== 'entity.too.large' && type !== 'request.aborted') {
      next(err);
      return;
    }
    const status = type === 'entity.too.large' ? 413 : 400;
    const reason = status === 413 ? `payload too large: the limit is ${maxBody} bytes (webhooks.maxBodyBytes)` : 'the request was aborted before its body arrived';
    const answer = await receiver.rejectUnread(req.headers, status, reason);
    if (!res.headersSent) res.status(status).set('Connection', 'close').json(answer.body);
  });

  app.get('/badges/:owner/:file', async (req: Request, res: Response) => {
    const file = String(req.params.file);
    if (!file.endsWith('.svg')) {
      res.status(404).type('text/plain').send('badges are at /badges/<owner>/<repo>.svg');
      return;
    }
    const repo = `${String(req.params.owner)}/${file.slice(0, -'.svg'.length)}`;
    const branchParam = typeof req.query.branch === 'string' && req.query.branch !== '' ? req.query.branch : undefined;
    const configured = engine.config.repositories.find((r) => r.name.toLowerCase() === repo.toLowerCase());
    const branch = branchParam ?? configured?.defaultBranch ?? 'main';
    let status;
    if (configured) {
      // The branch's own builds: a pull request run names its head branch but says nothing about the branch itself.
      const page = await engine.listRuns({ repo: configured.name, branch, limit: 20 });
      status = page.items.find((r) => r.event !== 'pull_request')?.status;
    }
    const state = badgeStateOf(status);
    const label = typeof req.query.label === 'string' && req.query.label !== '' ? req.query.label.slice(0, 100) : 'build';
    const svg = renderBadge(label, state, BADGE_COLORS[state]);
    const etag = etagOf(svg);
    res.setHeader('Content-Type', 'image/svg+xml; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('ETag', etag);
    res.setHeader('Content-Security-Policy', BADGE_CSP);
    if (etagMatches(req.get('if-none-match'), etag)) {
      res.status(304).end();
      return;
    }
    res.send(svg);
  });

  const guard = guardOptions(engine);
  app.use(localGuard(guard));

  const tickets = options.tickets ?? apiTickets();
  const authorize = tokenRule({ boundBeyondLoopback, token: () => engine.config.server.apiToken, tickets });
  app.use('/api', (req: Request, _res: Response, next: NextFunction) => {
    const refused = authorize(req, req.originalUrl);
    next(refused === undefined ? undefined : new ApiError('UNAUTHORIZED', refused));
  });
  app.use('/api', apiRoutes({
    engine,
    artifacts: options.artifacts,
    tickets,
    streams: options.streams,
    sessionSecret: guard.sessionSecret,
  }));

  const staticDir = options.staticDir ?? defaultStaticDir();
  if (staticDir && existsSync(join(staticDir, 'index.html'))) {
    const uiHeaders = (res: Response): void => {
      res.setHeader('Content-Security-Policy', UI_CSP);
      res.setHeader('X-Frame-Options', 'DENY');
    };
    // The page carries the session secret, so it is never cached and never served raw by express.static.
    const sendPage = async (res: Response): Promise<void> => {
      const html = await readFile(join(staticDir, 'index.html'), 'utf8');
      uiHeaders(res);
      res.setHeader('Cache-Control', 'no-store');
      res.type('html').send(withSessionMeta(html, guard.sessionSecret));
    };
    app.get('/index.html', (_req: Request, res: Response) => sendPage(res));
    app.use(express.static(staticDir, { index: false, setHeaders: uiHeaders, fallthrough: true }));
    app.get('/{*splat}', async (req: Request, res: Response, next: NextFunction) => {
      // Only page navigations fall back to the SPA; a missing script or image stays a 404.
      if (req.path.startsWith('/webhooks') || req.path.startsWith('/badges') || /\.[a-z0-9]+$/i.test(req.path)) {
        next();
        return;
      }
      await sendPage(res);
    });
  }
  app.use((req: Request, res: Response) => {
    res.status(404).json({ ok: false, error: { name: 'ApiError', code: 'NOT_FOUND', message: `no route ${req.method} ${req.path}` } });
  });
  app.use(apiErrorHandler);
  return app;
}

/**
 * Starts the HTTP server. Refuses to listen beyond loopback without server.apiToken.
 * `close()` ends live SSE streams and open connections, then the listener; it does not stop the engine.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? options.engine.config.server.host ?? '127.0.0.1';
  const port = options.port ?? options.engine.config.server.port ?? 7070;
  const streams = new Set<SseConnection>();
  const tickets = apiTickets();
  const app = createApp({ ...options, host, streams, tickets });
  const guard = guardOptions(options.engine);
  const server: Server = await new Promise((resolvePromise, reject) => {
    const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolvePromise(s)));
    s.once('error', reject);
  });
  server.keepAliveTimeout = 65_000;
  const { engine } = options;
  const warning = tokenWarning({ allowedHosts: guard.allowedHosts(), token: engine.config.server.apiToken });
  if (warning) (options.warn ?? ((line: string) => process.stderr.write(`${line}\n`)))(warning);
  const authorize = tokenRule({ boundBeyondLoopback: !isLoopback(host), token: () => engine.config.server.apiToken, tickets });
  const terminals = engine.terminals ? terminalSockets({ terminals: engine.terminals, guard, authorize }) : undefined;
  // The terminal is the one WebSocket route; any other handshake gets the guard's answer, then a plain 404, never a hang.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      if (terminals?.handle(req, socket, head)) return;
      const verdict = checkRequest(req, guard, { isApi: true, upgrade: true });
      refuseUpgrade(socket, verdict.ok ? 404 : verdict.status, verdict.ok ? `no WebSocket endpoint at ${(req.url ?? '').slice(0, 100)}` : verdict.reason);
    } catch {
      // A handshake this code cannot read ends its connection, never the server.
      socket.destroy();
    }
  });
  const address = server.address() as AddressInfo;
  // A wildcard bind is no address to connect to: this machine (the tunnel's target, the desktop page,
  // the start-up line) reaches it on loopback, a name the Host check knows and the page's CSP allows
  // (ws://127.0.0.1:*).
  const wildcard = address.address === '0.0.0.0' || address.address === '::';
  const shownHost = wildcard ? '127.0.0.1' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const terminalHost = shownHost;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${address.port}`,
    port: address.port,
    ...(terminals ? { terminalUrl: (jobId: string) => `ws://${terminalHost}:${address.port}/api/jobs/${encodeURIComponent(jobId)}/terminal?ticket=${terminals.mintTicket(jobId)}` } : {}),
    close() {
      closing ??= new Promise<void>((resolveClose) => {
        for (const stream of [...streams]) stream.close();
        terminals?.close();
        server.close(() => resolveClose());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      });
      return closing;
    },
  };
}

const secrets = new WeakMap<KilnEngine, string>();

/** The guard's view of the configuration; one session secret per engine (and so per data directory). */
function guardOptions(engine: KilnEngine): LocalGuardOptions {
  let sessionSecret = secrets.get(engine);
  if (sessionSecret === undefined) {
    sessionSecret = loadSessionSecret(engine.dataDir);
    secrets.set(engine, sessionSecret);
  }
  // The names the server is deliberately known by: allowed-hosts, and the host of the public URL that commit statuses link to.
  return { sessionSecret, allowedHosts: () => [...(engine.config.server.allowedHosts ?? []), ...publicHost(engine.config.server.publicUrl)] };
}

function publicHost(publicUrl: string | undefined): string[] {
  if (!publicUrl) return [];
  try {
    return [new URL(publicUrl).host];
  } catch {
    return [];
  }
}

function defaultStaticDir(): string | undefined {
  // dist/src-main/http/app.js → <package>/dist-renderer; src-main/http/app.ts (vitest) → same.
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const candidate of [resolve(here, '../../../dist-renderer'), resolve(here, '../../dist-renderer')]) {
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  return undefined;
}
