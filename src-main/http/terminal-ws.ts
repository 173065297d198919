/**
 * The terminal WebSocket: `GET /api/jobs/:id/terminal?cols=&rows=&flow=ack` upgraded to a WebSocket
 * that carries a shell in a job kept for debugging (engine: DebugTerminals), raw bytes both ways.
 *
 * Who may open one (checked before the handshake is accepted, answered as plain HTTP refusals):
 *   - the local guard's rules (local-guard.ts): an allowed Host (421), and from a browser only the
 *     dashboard's own Origin (403) — a WebSocket handshake is held to the state-changing rule;
 *   - beyond loopback, the API token (401): `Authorization: Bearer`, `?access_token=`, or — what the
 *     dashboard sends, since a browser cannot set headers on a WebSocket — a one-time `?auth_ticket=`
 *     minted for this terminal's path (api-tickets.ts), so the token never appears in a URL;
 *   - only a job kept for debugging now (409): no terminal into a job of a run not in debug mode.
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
 * stream: it is the user's own shell.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ApiError } from '../../shared/api/engine-api.js';
import type { DebugTerminal, DebugTerminals } from '../core/engine-contract.js';
import { apiTickets, requestAuthorized, UNAUTHORIZED_MESSAGE, type ApiTickets } from './api-tickets.js';
import { checkHost, checkRequest, type LocalGuardOptions } from './local-guard.js';
import { gatherFrames } from './terminal-frames.js';

const PATH = /^\/api\/jobs\/([^/]+)\/terminal$/;
export const HIGH_WATER = 512 * 1024;
/** Half the window: the shell resumes while the page still has output to parse, so it never waits idle for the refill. */
export const LOW_WATER = 256 * 1024;
/** Control messages are tiny; anything larger is not one. */
const MAX_CONTROL_BYTES = 1024;
const TICKET_TTL_MS = 60_000;

export interface TerminalSocketOptions {
  terminals: DebugTerminals;
  guard: LocalGuardOptions;
  /** Set when the server listens beyond loopback: the API token check (constant-time). */
  tokenMatches?: (given: string) => boolean;
  /** The server's one-time API tickets (api-tickets.ts), accepted in place of the token. */
  tickets?: ApiTickets;
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
  const tickets = new Map<string, { jobId: string; expires: number }>();
  const apiTicketStore = o.tickets ?? apiTickets();
  /** Takes a ticket for `jobId` (single use); false when there is none, or it expired. */
  const redeem = (ticket: string | null, jobId: string): boolean => {
    if (!ticket) return false;
    const t = tickets.get(ticket);
    tickets.delete(ticket);
    return t !== undefined && t.jobId === jobId && t.expires > Date.now();
  };
  return {
    mintTicket(jobId) {
      if (!o.terminals.isKept(jobId)) throw notKept(jobId);
      const now = Date.now();
      for (const [k, t] of tickets) if (t.expires <= now) tickets.delete(k);
      const ticket = randomBytes(24).toString('hex');
      tickets.set(ticket, { jobId, expires: now + TICKET_TTL_MS });
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
      if (o.tokenMatches && !ticketed && !requestAuthorized({ url: req.url ?? '/', method: req.method ?? 'GET', authorization: req.headers.authorization }, o.tokenMatches, apiTicketStore)) {
        refuseUpgrade(socket, 401, UNAUTHORIZED_MESSAGE);
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
      const size = { cols: Number(url.searchParams.get('cols') ?? 80), rows: Number(url.searchParams.get('rows') ?? 24) };
      const acked = url.searchParams.get('flow') === 'ack';
      wss.handleUpgrade(req, socket, head, (ws) => {
        open.add(ws);
        ws.once('close', () => open.delete(ws));
        void serve(ws, o.terminals, jobId, size, acked);
      });
      return true;
    },
    close() {
      for (const ws of open) ws.terminate();
      wss.close();
    },
  };
}

async function serve(ws: WebSocket, terminals: DebugTerminals, jobId: string, size: { cols: number; rows: number }, acked: boolean): Promise<void> {
  const control = (msg: Record<string, unknown>): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  };
  let closed = false;
  ws.once('close', () => { closed = true; });
  // Keystrokes typed before the shell is up are kept, in order, and written once it is.
  let early: Array<{ bytes: Buffer; isBinary: boolean }> | undefined = [];
  let handle: (bytes: Buffer, isBinary: boolean) => void = () => undefined;
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (early) early.push({ bytes, isBinary });
    else handle(bytes, isBinary);
  });
  let term: DebugTerminal;
  try {
    term = await terminals.open(jobId, size);
  } catch (err) {
    control({ type: 'error', message: err instanceof ApiError || err instanceof Error ? err.message : String(err) });
    ws.close(1011, 'no terminal');
    return;
  }
  if (closed) {
    term.close();
    return;
  }
  ws.once('close', () => term.close());
  control({ type: 'ready' });

  let unacked = 0;
  let paused = false;
  const pauseIfFull = (): void => {
    if (!paused && (unacked > HIGH_WATER || ws.bufferedAmount > HIGH_WATER)) {
      paused = true;
      term.stream.pause();
    }
  };
  const resumeIfRoom = (): void => {
    if (paused && unacked < LOW_WATER && ws.bufferedAmount < LOW_WATER) {
      paused = false;
      term.stream.resume();
    }
  };
  const frames = gatherFrames((frame) => {
    if (ws.readyState !== ws.OPEN) return;
    if (acked) unacked += frame.length;
    ws.send(frame, { binary: true }, () => resumeIfRoom());
    pauseIfFull();
  });
  ws.once('close', () => frames.end());
  term.stream.on('data', (chunk: Buffer) => frames.push(chunk));
  handle = (bytes, isBinary) => {
    if (isBinary) {
      term.stream.write(bytes);
      return;
    }
    if (bytes.length > MAX_CONTROL_BYTES) return;
    let msg: { type?: unknown; cols?: unknown; rows?: unknown; bytes?: unknown };
    try {
      msg = JSON.parse(bytes.toString('utf8')) as typeof msg;
    } catch {
      control({ type: 'error', message: 'a text frame must be a JSON control message ({"type":"resize",…} or {"type":"ack",…}); keystrokes go in binary frames' });
      return;
    }
    if (msg.type === 'resize') void term.resize(Number(msg.cols), Number(msg.rows));
    else if (msg.type === 'ack' && typeof msg.bytes === 'number' && msg.bytes > 0) {
      unacked = Math.max(0, unacked - msg.bytes);
      resumeIfRoom();
    }
  };
  for (const m of early) handle(m.bytes, m.isBinary);
  early = undefined;
  const code = await term.exit;
    // What the frames still hold goes out before the end is said.
    frames.end();
    // The shell's end may be its container's: then debugging ended, and the page must say so.
    const gone = await terminals.containerGone(jobId).catch(() => undefined);
    control(gone === undefined ? { type: 'exit', code } : { type: 'gone', code, message: gone });
  if (ws.readyState === ws.OPEN) ws.close(1000, 'shell exited');
}

/** A refused handshake as a plain HTTP answer with the API's JSON error body; never a hang. */
export function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  const code = status === 404 ? 'NOT_FOUND' : status === 409 ? 'CONFLICT' : status === 400 ? 'BAD_REQUEST' : 'UNAUTHORIZED';
  const body = JSON.stringify({ ok: false, error: { name: 'ApiError', code, message: reason } });
  const text: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 421: 'Misdirected Request' };
  socket.on('error', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text[status] ?? 'Forbidden'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
