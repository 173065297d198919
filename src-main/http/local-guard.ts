/**
 * Keeps web pages out of the local server. Kiln listens on 127.0.0.1, and every page the user visits
 * can make the browser send requests there: directly from another origin (cross-site request
 * forgery), or, after pointing its own DNS name at 127.0.0.1, as if it were the same origin (DNS
 * rebinding). Three rules, checked before /api and the dashboard (webhooks and badges are mounted
 * ahead of this guard: webhooks are signed, badges public and read-only):
 *
 * 1. Host allow-list. The Host header must be a name the server is really known by: 127.0.0.1,
 *    localhost or [::1] with the port the connection arrived on, the address the connection arrived
 *    on (a server bound beyond loopback), or a name in server.allowed-hosts. A rebinding page sends
 *    its own name, so it is refused (421) before anything is read or changed.
 * 2. Origin. A browser names the page behind every cross-origin request (Origin, and
 *    Sec-Fetch-Site in current browsers). /api answers only the dashboard's own origin (top-level
 *    navigations excepted: the attacker cannot read what the user's tab shows), and a state-changing
 *    request anywhere must come from that origin too. No CORS header is ever sent.
 * 3. Session secret. A state-changing request that comes from a browser (it carries Origin or
 *    Sec-Fetch-Site) must also carry X-Kiln-Session: the per-install secret the server embeds in the
 *    dashboard page (a <meta> tag; the CSP forbids inline script). Another origin cannot read that
 *    page, so it cannot forge the header even where browsers differ in what they send.
 *    Non-browser clients (the CLI, scripts, tests) send neither Origin nor Sec-Fetch-Site; they pass
 *    on a valid Host, and beyond loopback the bearer API token (api-routes.ts) applies to them.
 *    Bodies of state-changing requests must be JSON or absent: an HTML form can send neither, so a
 *    form post from an old browser that names no Origin still changes nothing.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';

/** The header that carries the session secret, and the <meta name> the dashboard reads it from. */
export const SESSION_HEADER = 'x-kiln-session';
export const SESSION_META = 'kiln-session';
const SECRET_FILE = 'session-secret';

export interface LocalGuardOptions {
  /** server.allowed-hosts, read per request so that a changed configuration applies at once. */
  allowedHosts: () => readonly string[];
  sessionSecret: string;
}

export type Verdict = { ok: true } | { ok: false; status: 400 | 403 | 421; reason: string };

const OK: Verdict = { ok: true };
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const JSON_TYPE = /^application\/(?:json|[^;\s]*\+json)\s*(?:;|$)/i;
const HOST_SHAPE = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d{1,5}))?$/;

/** `name[:port]` of a Host header or an allowed-hosts entry, lower-cased; undefined when malformed. */
export function parseHost(value: string): { name: string; port?: string } | undefined {
  const m = HOST_SHAPE.exec(value.trim().toLowerCase());
  if (!m) return undefined;
  return m[2] === undefined ? { name: m[1] } : { name: m[1], port: String(Number(m[2])) };
}

/** The address a connection arrived on, as it appears in a Host header (IPv6 bracketed, IPv4-mapped unwrapped). */
function hostFormOf(address: string | undefined): string | undefined {
  if (!address) return undefined;
  const v4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)?.[1];
  if (v4) return v4;
  return address.includes(':') ? `[${address.toLowerCase()}]` : address;
}

/**
 * Rule 1. `local` is where the connection arrived (its port is the listening port). An allowed-hosts
 * entry without a port matches that name on any port (a reverse proxy's own port, for instance).
 */
export function checkHost(host: string | undefined, local: { address?: string; port?: number }, allowedHosts: readonly string[]): Verdict {
  const shown = (host ?? '').slice(0, 100);
  const parsed = host === undefined ? undefined : parseHost(host);
  if (parsed) {
    const port = parsed.port ?? '80';
    if (port === String(local.port) && (LOOPBACK_NAMES.includes(parsed.name) || parsed.name === hostFormOf(local.address))) return OK;
    for (const entry of allowedHosts) {
      const allowed = parseHost(entry);
      if (allowed && allowed.name === parsed.name && (allowed.port === undefined || allowed.port === parsed.port)) return OK;
    }
  }
  return {
    ok: false, status: 421,
    reason: `Host '${shown}' is not a name of this server: it answers to 127.0.0.1:${local.port}, localhost:${local.port} and [::1]:${local.port} (add other names under server.allowed-hosts)`,
  };
}

/** The page's own origin for a request whose Host passed rule 1: exact browser serialisation, lower case. */
function ownOrigins(host: string): string[] {
  const h = host.trim().toLowerCase();
  return [`http://${h}`, `https://${h}`];
}

/**
 * Rules 2 and 3 for one request whose Host was allowed. `isApi` selects the stricter read rule of /api;
 * `upgrade` marks a WebSocket handshake (held to the state-changing rule for its origin).
 */
export function checkOrigin(req: IncomingMessage, sessionSecret: string, options: { isApi: boolean; upgrade?: boolean }): Verdict {
  const method = (req.method ?? 'GET').toUpperCase();
  const origin = header(req, 'origin');
  const site = header(req, 'sec-fetch-site')?.toLowerCase();
  const changing = STATE_CHANGING.has(method);
  if (origin !== undefined && !ownOrigins(header(req, 'host') ?? '').includes(origin)) {
    return { ok: false, status: 403, reason: `requests from origin '${origin.slice(0, 100)}' are refused: only the dashboard served by this server may call it` };
  }
  if (site !== undefined && site !== 'same-origin') {
    const navigation = header(req, 'sec-fetch-mode')?.toLowerCase() === 'navigate';
    const readOnly = !changing && !options.upgrade;
    if (!(readOnly && (site === 'none' || (navigation && options.isApi) || !options.isApi))) {
      return { ok: false, status: 403, reason: `a ${site} request is refused: only the dashboard served by this server may call it` };
    }
  }
  if (!changing) return OK;
  const type = header(req, 'content-type');
  if (type !== undefined && !JSON_TYPE.test(type)) {
    return { ok: false, status: 400, reason: `a JSON body (Content-Type: application/json) or none is required; got ${type.slice(0, 100)}` };
  }
  if (origin !== undefined || site !== undefined) {
    const given = header(req, SESSION_HEADER);
    if (given === undefined || !secretsEqual(given, sessionSecret)) {
      return { ok: false, status: 403, reason: `a browser request that changes something must carry the dashboard's session secret (${SESSION_HEADER}); reload the dashboard` };
    }
  }
  return OK;
}

/** Whether a request carries the dashboard page's session secret: it comes from the dashboard, not a script. */
export function fromDashboard(req: IncomingMessage, sessionSecret: string): boolean {
  const given = header(req, SESSION_HEADER);
  return given !== undefined && secretsEqual(given, sessionSecret);
}

/** Express middleware for every route mounted after it. Refusals are the API's JSON error envelope. */
export function localGuard(options: LocalGuardOptions) {
  return (req: Request, res: Response, next: NextFunction): void => {
    // Express matches /api without case (/API/runs reaches the API), so the check does too.
    const path = req.path.toLowerCase();
    const verdict = checkRequest(req, options, { isApi: path === '/api' || path.startsWith('/api/') });
    if (verdict.ok) {
      next();
      return;
    }
    res.status(verdict.status).set('Connection', 'close').json({ ok: false, error: { name: 'ApiError', code: verdict.status === 400 ? 'BAD_REQUEST' : 'UNAUTHORIZED', message: verdict.reason } });
  };
}

/** All three rules for one request (or WebSocket handshake, `upgrade`). */
export function checkRequest(req: IncomingMessage, options: LocalGuardOptions, kind: { isApi: boolean; upgrade?: boolean }): Verdict {
  const host = checkHost(header(req, 'host'), { address: req.socket.localAddress, port: req.socket.localPort }, options.allowedHosts());
  return host.ok ? checkOrigin(req, options.sessionSecret, kind) : host;
}

/**
 * The per-install session secret, kept in `<dataDir>/session-secret` (mode 0600) so that an open
 * dashboard keeps working across restarts. Created on first use; a damaged file is replaced.
 */
export function loadSessionSecret(dataDir: string): string {
  const file = join(dataDir, SECRET_FILE);
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(existing)) return existing;
  } catch { /* not there yet */ }
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // a replaced file keeps its old mode otherwise
  return secret;
}

/** The dashboard page with the session secret as `<meta name="kiln-session">` at the top of <head>. */
export function withSessionMeta(html: string, secret: string): string {
  const meta = `<meta name="${SESSION_META}" content="${secret}">`;
  return /<head[^>]*>/i.test(html) ? html.replace(/<head[^>]*>/i, (open) => `${open}${meta}`) : `${meta}${html}`;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
