/**
 * When /api (and the terminal handshake) needs the API token: decided per request, not by the
 * address Kiln binds. Kiln on 127.0.0.1 behind a reverse proxy on the same machine (the proxy's
 * name in server.allowed-hosts or server.public-url) is reached by remote browsers whose requests
 * pass the Host and Origin checks; only the token tells them from the user at this machine.
 *
 * A request needs the token when
 *   - the server listens beyond loopback (every request, as before), or
 *   - its Host is not a loopback name (127.0.0.0/8, localhost, [::1]): it came by another name, or
 *   - it carries a proxy's forwarding header (Forwarded, X-Forwarded-For, X-Forwarded-Host,
 *     X-Real-IP): a proxy that rewrites Host to 127.0.0.1 still marks what it forwards.
 * Such a request without server.api-token configured is refused (401) with a reason naming it:
 * Kiln never serves the API to a remote client unauthenticated. Requests outside /api keep their
 * own rules (webhooks are signed, badges public, the dashboard page holds no data and asks for
 * the token), and a one-time ticket stands in for the token where a browser cannot send one.
 */
import type { IncomingMessage } from 'node:http';
import { requestAuthorized, tokensEqual, UNAUTHORIZED_MESSAGE, type ApiTickets } from './api-tickets.js';
import { parseHost } from './local-guard.js';

const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip'];

export function isLoopbackName(name: string): boolean {
  const h = name.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** The loopback-only reason for a request that needs a token no one configured. */
export function noTokenMessage(host: string | undefined): string {
  return `this request came from beyond this machine (Host '${(host ?? '').slice(0, 100)}', or through a proxy) and server.api-token is not set: `
    + 'set server.api-token in kiln.config.yml to open the API to other machines (clients then send Authorization: Bearer <token>)';
}

/** Whether `req` arrived by a non-loopback name or through a proxy. */
export function fromBeyondLoopback(req: IncomingMessage): boolean {
  const host = req.headers.host;
  const parsed = host === undefined ? undefined : parseHost(host);
  if (!parsed || !isLoopbackName(parsed.name)) return true;
  return FORWARDING_HEADERS.some((h) => req.headers[h] !== undefined);
}

export interface TokenRuleOptions {
  /** The server listens beyond loopback: every request needs the token. */
  boundBeyondLoopback: boolean;
  /** server.api-token, read per request so that a changed setting applies at once. */
  token: () => string | undefined;
  tickets: ApiTickets;
}

/**
 * The rule for one /api request or terminal handshake (`url` is its whole path and query, /api
 * included): undefined when it may go on, else the 401 reason.
 */
export function tokenRule(o: TokenRuleOptions): (req: IncomingMessage, url: string) => string | undefined {
  return (req, url) => {
    if (!o.boundBeyondLoopback && !fromBeyondLoopback(req)) return undefined;
    const token = o.token();
    if (!token) return noTokenMessage(req.headers.host);
    const ok = requestAuthorized({ url, method: req.method ?? 'GET', authorization: req.headers.authorization }, (given) => tokensEqual(given, token), o.tickets);
    return ok ? undefined : UNAUTHORIZED_MESSAGE;
  };
}

/**
 * The names the server is known by beyond loopback (allowed-hosts, public-url) while no token is
 * set: each lets remote clients reach a server that will refuse them. A start-up warning, or undefined.
 */
export function tokenWarning(o: { allowedHosts: readonly string[]; token: string | undefined }): string | undefined {
  if (o.token) return undefined;
  const remote = o.allowedHosts.filter((h) => {
    const parsed = parseHost(h);
    return parsed !== undefined && !isLoopbackName(parsed.name);
  });
  if (remote.length === 0) return undefined;
  return `kiln: ${remote.join(', ')} (server.allowed-hosts / server.public-url) reach this server from other machines, but server.api-token is not set: `
    + 'their /api requests and terminals are refused (401) until it is';
}
