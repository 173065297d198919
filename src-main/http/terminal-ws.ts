/**
 * The terminal WebSocket: `GET /api/jobs/:id/terminal?cols=&rows=&flow=ack` upgraded to a WebSocket
 * that carries a shell in a job kept for debugging (engine: DebugTerminals), raw bytes both ways.
 *
 * Who may open one (checked before the handshake is accepted, answered as plain HTTP refusals):
 *   - the local guard's rules (local-guard.ts): an allowed Host (421), and from a browser only the
 *     dashboard's own Origin (403) — a WebSocket handshake is held to the state-changing rule;
 *   - from beyond loopback (token-rule.ts), the API token (401): `Authorization: Bearer`, `?access_token=`, or — what the
 *     dashboard sends, since a browser cannot set headers on a WebSocket — a one-time `?auth_ticket=`
 *     minted for this terminal's path (api-tickets.ts), so the token never appears in a URL;
 *   - only a job kept for debugging now (409): no terminal into a job of a run not in debug mode;
 *   - at most TERMINAL_LIMITS.perJob open terminals into one job and TERMINAL_LIMITS.total in all (429).
 * The desktop app's page (file://) has no origin of this server: it asks main over IPC for a
 * ticket (mintTicket, only for a job kept now), a one-time secret for one job that expires in a minute, and its handshake
 * then passes on the ticket instead of Origin and token (Host is still checked). No HTTP route
 * mints these desktop tickets, so no web page can obtain one (API tickets need the API token).
 *
 * Frames: binary client → server is keyboard input; binary server → client is screen output.
 * Text frames are JSON control messages: client → server {type:'resize', cols, rows} and, with
 * `flow=ack`, {type:'ack', bytes} once the terminal has drawn that much output; server → client
 * {type:'ready'}, {type:'exit', code}, {type:'error', message} (the terminal could not open), and
 * {type:'gone', code, message} instead of 'exit' when the shell ended because its container did
 * (removed, stopped, or debugging ended): debugging is over, the message says why.
 *
 * Output is gathered into frames (terminal-frames.ts): a flood's tiny reads go as few large frames,
 * a keystroke's echo at once. Flow control keeps a flood (`yes`) from filling memory or stalling
 * the event loop: the shell's output is paused while more than HIGH_WATER bytes are unacknowledged
 * (flow=ack) or queued on the socket, and resumed below LOW_WATER. Nothing here logs or masks the
 * stream: it is the user's own shell. One accepted socket is served by terminal-session.ts, which
 * also bounds what a peer can make the server hold (input before the shell is up, a hanging exec,
 * a dead peer) and keeps any bad frame from ending the server.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiError } from '../../shared/api/engine-api.js';
import type { DebugTerminals } from '../core/engine-contract.js';
import { checkHost, checkRequest, type LocalGuardOptions } from './local-guard.js';
import { serveTerminal, SESSION_LIMITS, type SessionLimits } from './terminal-session.js';

export { HIGH_WATER, LOW_WATER } from './terminal-session.js';

const PATH = /^\/api\/jobs\/([^/]+)\/terminal$/;
export const TICKET_TTL_MS = 60_000;

export interface TerminalLimits extends SessionLimits {
  /** Open terminals into one job. */
  perJob: number;
  /** Open terminals in all. */
  total: number;
}

export const TERMINAL_LIMITS: TerminalLimits = { ...SESSION_LIMITS, perJob: 16, total: 64 };

export interface TerminalSocketOptions {
  terminals: DebugTerminals;
  guard: LocalGuardOptions;
  /**
   * The API token rule (token-rule.ts): undefined when the handshake may go on, else the 401 reason.
   * Absent: no token is asked (a server used only from this machine, the tests' own servers).
   */
  authorize?: (req: IncomingMessage, url: string) => string | undefined;
  /** The desktop tickets' clock (default Date.now). */
  now?: () => number;
  /** Default TERMINAL_LIMITS. */
  limits?: Partial<TerminalLimits>;
}

export interface TerminalSockets {
  /** Handles an upgrade for the terminal path (true), or leaves it to the caller (false). */
  handle(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /**
   * A one-time ticket for one terminal into `jobId` (the desktop app, through IPC); valid a minute.
   * Throws CONFLICT when the job is not kept for debugging now: no ticket is minted for it.
   */
  mintTicket(jobId: string): string;
  /** Ends every open terminal (the kept containers stay). */
  close(): void;
}

function notKept(jobId: string): ApiError {
  return new ApiError('CONFLICT', `job ${jobId.slice(0, 100)} is not kept for debugging: only a failed job of a run started with debug is, until its deadline`);
}

export function terminalSockets(o: TerminalSocketOptions): TerminalSockets {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, perMessageDeflate: false });
  const open = new Set<WebSocket>();
  const perJob = new Map<string, number>();
  const limits = { ...TERMINAL_LIMITS, ...o.limits };
  const now = o.now ?? Date.now;
  const tickets = new Map<string, { jobId: string; expires: number }>();
  /** Takes a ticket for `jobId` (single use); false when there is none, or it expired. */
  const redeem = (ticket: string | null, jobId: string): boolean => {
    if (!ticket) return false;
    const t = tickets.get(ticket);
    tickets.delete(ticket);
    return t !== undefined && t.jobId === jobId && t.expires > now();
  };
  return {
    mintTicket(jobId) {
      if (!o.terminals.isKept(jobId)) throw notKept(jobId);
      const t0 = now();
      for (const [k, t] of tickets) if (t.expires <= t0) tickets.delete(k);
      const ticket = randomBytes(24).toString('hex');
      tickets.set(ticket, { jobId, expires: t0 + TICKET_TTL_MS });
      return ticket;
    },
    handle(req, socket, head) {
      const url = new URL(req.url ?? '/', 'http://kiln.invalid');
      const m = PATH.exec(url.pathname);
      if (!m) return false;
      let ticketed = false;
      if (url.searchParams.has('ticket')) {
        let id = '';
        try { id = decodeURIComponent(m[1]); } catch { /* refused below */ }
        ticketed = redeem(url.searchParams.get('ticket'), id);
        if (!ticketed) {
          refuseUpgrade(socket, 403, 'the terminal ticket is unknown, used or expired: open the terminal again');
          return true;
        }
      }
      const verdict = ticketed
        ? checkHost(req.headers.host, { address: req.socket.localAddress, port: req.socket.localPort }, o.guard.allowedHosts())
        : checkRequest(req, o.guard, { isApi: true, upgrade: true });
      if (!verdict.ok) {
        refuseUpgrade(socket, verdict.status, verdict.reason);
        return true;
      }
      const refused = ticketed ? undefined : o.authorize?.(req, req.url ?? '/');
      if (refused !== undefined) {
        refuseUpgrade(socket, 401, refused);
        return true;
      }
      let jobId: string;
      try {
        jobId = decodeURIComponent(m[1]);
      } catch {
        refuseUpgrade(socket, 400, `the job id in ${url.pathname.slice(0, 100)} is not valid percent-encoding`);
        return true;
      }
      if (!o.terminals.isKept(jobId)) {
        refuseUpgrade(socket, 409, notKept(jobId).message);
        return true;
      }
      const mine = perJob.get(jobId) ?? 0;
      if (mine >= limits.perJob || open.size >= limits.total) {
        refuseUpgrade(socket, 429, mine >= limits.perJob
          ? `${mine} terminals are open into this job, the most there may be: close one first`
          : `${open.size} terminals are open on this server, the most there may be: close one first`);
        return true;
      }
      const size = { cols: Number(url.searchParams.get('cols') ?? 80), rows: Number(url.searchParams.get('rows') ?? 24) };
      const acked = url.searchParams.get('flow') === 'ack';
      wss.handleUpgrade(req, socket, head, (ws) => {
        open.add(ws);
        perJob.set(jobId, (perJob.get(jobId) ?? 0) + 1);
        ws.once('close', () => {
          open.delete(ws);
          const left = (perJob.get(jobId) ?? 1) - 1;
          if (left > 0) perJob.set(jobId, left);
          else perJob.delete(jobId);
        });
        serveTerminal(ws, { terminals: o.terminals, jobId, size, acked, limits });
      });
      return true;
    },
    close() {
      for (const ws of open) ws.terminate();
      wss.close();
    },
  };
}

/** A refused handshake as a plain HTTP answer with the API's JSON error body; never a hang. */
export function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  const code = status === 404 ? 'NOT_FOUND' : status === 409 ? 'CONFLICT' : status === 400 ? 'BAD_REQUEST' : status === 429 ? 'UNAVAILABLE' : 'UNAUTHORIZED';
  const body = JSON.stringify({ ok: false, error: { name: 'ApiError', code, message: reason } });
  const text: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 421: 'Misdirected Request', 429: 'Too Many Requests' };
  socket.on('error', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text[status] ?? 'Forbidden'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
