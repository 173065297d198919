/**
 * Who may call /api when the server listens beyond loopback, and the one-time tickets that stand in
 * for the API token where a browser cannot send a header.
 *
 * The token itself travels only in `Authorization: Bearer` (scripts may still use `?access_token=`).
 * The dashboard never puts it in a URL: an EventSource, a download link and a WebSocket cannot set
 * headers, so the dashboard first asks `POST /api/auth/tickets {path}` (with the bearer token) for a
 * ticket and opens `path?auth_ticket=<ticket>`. A ticket
 *   - opens one GET of the one path it was minted for (TICKETED_PATHS only: streams, downloads, the
 *     terminal), once: redeeming it deletes it, so a URL that lands in a proxy log or the browser's
 *     history is worthless afterwards;
 *   - expires TICKET_TTL_MS after minting, used or not;
 *   - never authorises minting another ticket (the mint route is not a ticketed path).
 * Tickets live in memory: a restart forgets them, and the dashboard simply mints new ones.
 * Tokens are compared in constant time (both sides hashed first, so the length leaks nothing either).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TICKET_PARAM = 'auth_ticket';
export const TICKET_TTL_MS = 60_000;
/** Outstanding tickets kept at most; the oldest is dropped beyond this (a runaway client cannot fill memory). */
const MAX_TICKETS = 10_000;

/** The GET routes a browser opens without headers; only these accept a ticket. */
const TICKETED_PATHS: readonly RegExp[] = [
  /^\/api\/events$/,
  /^\/api\/jobs\/[^/]+\/log\/(?:stream|raw)$/,
  /^\/api\/artifacts\/[^/]+\/download$/,
  /^\/api\/jobs\/[^/]+\/terminal$/,
];

export const UNAUTHORIZED_MESSAGE = 'this server is reachable beyond localhost: send Authorization: Bearer <server.api-token> (the dashboard asks for it on its sign-in screen)';

export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** A path as compared for tickets: percent-decoded where that is possible, so `%2D` and `-` agree. */
function canonicalPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

export function isTicketedPath(path: string): boolean {
  return TICKETED_PATHS.some((re) => re.test(path));
}

export interface ApiTickets {
  /** A ticket for one GET of `path` (which must be a ticketed path), valid TICKET_TTL_MS. */
  mint(path: string): { ticket: string; expiresAt: number };
  /** True once for a live ticket minted for `path`; the ticket is gone afterwards either way. */
  redeem(ticket: string, path: string): boolean;
}

export function apiTickets(now: () => number = Date.now): ApiTickets {
  const live = new Map<string, { path: string; expires: number }>();
  return {
    mint(path) {
      const t = now();
      for (const [k, v] of live) if (v.expires <= t) live.delete(k);
      while (live.size >= MAX_TICKETS) live.delete(live.keys().next().value as string);
      const ticket = randomBytes(24).toString('base64url');
      const expiresAt = t + TICKET_TTL_MS;
      live.set(ticket, { path: canonicalPath(path), expires: expiresAt });
      return { ticket, expiresAt };
    },
    redeem(ticket, path) {
      const entry = live.get(ticket);
      if (!entry) return false;
      live.delete(ticket);
      return entry.expires > now() && entry.path === canonicalPath(path);
    },
  };
}

/** What the check reads of a request: `url` is the whole path and query as the client sent it (with /api). */
export interface AuthRequest { url: string; method: string; authorization?: string }

/**
 * Whether a request to /api (or the terminal handshake) is authorised beyond loopback: a matching
 * bearer token or `?access_token=`, or, for a GET of a ticketed path, a live ticket for that path.
 */
export function requestAuthorized(req: AuthRequest, tokenMatches: (given: string) => boolean, tickets: ApiTickets): boolean {
  const url = new URL(req.url, 'http://kiln.invalid');
  const bearer = /^Bearer\s+(.+)$/i.exec(req.authorization ?? '')?.[1]?.trim();
  const given = bearer ?? url.searchParams.get('access_token') ?? undefined;
  if (given !== undefined) return tokenMatches(given);
  const ticket = url.searchParams.get(TICKET_PARAM);
  if (ticket === null || req.method.toUpperCase() !== 'GET' || !isTicketedPath(url.pathname)) return false;
  return tickets.redeem(ticket, url.pathname);
}
