/**
 * One accepted terminal WebSocket (terminal-ws.ts checks who may open it and how many are open):
 * the shell's bytes both ways, the JSON control messages, and flow control in both directions.
 *
 * Nothing a peer sends may end the server: a frame `ws` cannot accept (over maxPayload, text that is
 * not UTF-8, any protocol error) arrives as the socket's 'error' and ends that socket only; a text
 * frame that is not a control message this side knows gets an {type:'error'} answer; no listener
 * throws, and the session's promise never rejects unhandled.
 *
 * Bounds, so that a peer (or a stuck Docker) cannot hold memory or a socket forever:
 *   - input typed before the shell is up is kept up to `earlyBytes`; more closes the socket (1008);
 *   - a shell that does not open within `openTimeoutMs` is given up (an {type:'error'}, then 1011);
 *   - input waits for the shell: while its stream refuses more (write() false), the socket is not
 *     read (ws pause), until the stream drains;
 *   - a ping every `pingMs`; a peer that has not answered the previous one is dropped.
 * Output flow control (HIGH_WATER/LOW_WATER, acks) is described in terminal-ws.ts.
 */
import type { RawData, WebSocket } from 'ws';
import { ApiError } from '../../shared/api/engine-api.js';
import type { DebugTerminal, DebugTerminals } from '../core/engine-contract.js';
import { gatherFrames } from './terminal-frames.js';

export const HIGH_WATER = 512 * 1024;
/** Half the window: the shell resumes while the page still has output to parse, so it never waits idle for the refill. */
export const LOW_WATER = 256 * 1024;
/** Control messages are tiny; anything larger is not one. */
const MAX_CONTROL_BYTES = 1024;

export interface SessionLimits {
  /** Input kept while the shell is starting. */
  earlyBytes: number;
  /** How long the shell may take to open (a `docker exec` that hangs). */
  openTimeoutMs: number;
  /** Ping period; a peer silent for a whole period is dropped. */
  pingMs: number;
}

export const SESSION_LIMITS: SessionLimits = { earlyBytes: 64 * 1024, openTimeoutMs: 15_000, pingMs: 30_000 };

export type ControlMessage = { type: 'resize'; cols: number; rows: number } | { type: 'ack'; bytes: number };

const CONTROL_HELP = 'a text frame must be a JSON control message ({"type":"resize","cols":N,"rows":N} or {"type":"ack","bytes":N}); keystrokes go in binary frames';

/** A text frame as a control message, or why it is not one (never throws). */
export function parseControl(text: string): ControlMessage | { problem: string } {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { problem: CONTROL_HELP };
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return { problem: CONTROL_HELP };
  const m = msg as Record<string, unknown>;
  const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (m.type === 'resize') {
    if (!positive(m.cols) || !positive(m.rows)) return { problem: 'a resize message needs cols and rows as positive numbers' };
    return { type: 'resize', cols: m.cols, rows: m.rows };
  }
  if (m.type === 'ack') {
    if (!positive(m.bytes)) return { problem: 'an ack message needs bytes as a positive number' };
    return { type: 'ack', bytes: m.bytes };
  }
  return { problem: `unknown control message type ${JSON.stringify(m.type ?? null).slice(0, 50)}: ${CONTROL_HELP}` };
}

/**
 * Serves one accepted socket until the shell or the socket ends. Attaches the socket's 'error'
 * listener first, before any await, so that no frame can arrive unheard.
 */
export function serveTerminal(ws: WebSocket, o: {
  terminals: DebugTerminals; jobId: string; size: { cols: number; rows: number }; acked: boolean; limits: SessionLimits;
}): void {
  ws.on('error', () => ws.terminate());
  let alive = true;
  let pausedPings = 0;
  ws.on('pong', () => { alive = true; });
  const pinger = setInterval(() => {
    // A socket not read while the shell catches up on input cannot hear its pong either; but input
    // the shell leaves unread for three ping periods (a paste into a program that never reads, then
    // the browser gone) must not hold the terminal, and a slot of the job's, for ever.
    if (ws.isPaused) {
      if (++pausedPings >= 3) {
        // A socket not read cannot finish a close handshake: the close frame goes, then the socket.
        ws.close(1008, 'the shell has not read its input for a long time');
        setTimeout(() => ws.terminate(), 1000).unref();
      }
      return;
    }
    pausedPings = 0;
    if (!alive) {
      ws.terminate();
      return;
    }
    alive = false;
    ws.ping();
  }, o.limits.pingMs);
  pinger.unref();
  ws.once('close', () => clearInterval(pinger));
  serve(ws, o).catch(() => ws.terminate());
}

async function serve(ws: WebSocket, o: { terminals: DebugTerminals; jobId: string; size: { cols: number; rows: number }; acked: boolean; limits: SessionLimits }): Promise<void> {
  const control = (msg: Record<string, unknown>): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  };
  let closed = false;
  ws.once('close', () => { closed = true; });
  // Keystrokes typed before the shell is up are kept, in order, and written once it is.
  let early: Array<{ bytes: Buffer; isBinary: boolean }> | undefined = [];
  let earlySize = 0;
  let handle: (bytes: Buffer, isBinary: boolean) => void = () => undefined;
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (!early) {
      try {
        handle(bytes, isBinary);
      } catch {
        // A listener that throws would end the server: this socket ends instead.
        ws.terminate();
      }
      return;
    }
    if (earlySize > o.limits.earlyBytes) return; // refused already: the socket is closing
    earlySize += bytes.length;
    if (earlySize > o.limits.earlyBytes) {
      early = [];
      ws.close(1008, `more than ${o.limits.earlyBytes} bytes typed before the shell was ready`);
      return;
    }
    early.push({ bytes, isBinary });
  });
  let term: DebugTerminal;
  try {
    term = await openWithin(o.terminals, o.jobId, o.size, o.limits.openTimeoutMs);
  } catch (err) {
    control({ type: 'error', message: err instanceof ApiError || err instanceof Error ? err.message : String(err) });
    ws.close(1011, 'no terminal');
    return;
  }
  if (closed || ws.readyState !== ws.OPEN) {
    term.close();
    return;
  }
  ws.once('close', () => term.close());
  // The engine's stream reports its end through exit; an 'error' must not go unheard.
  term.stream.on('error', () => ws.close(1011, 'the shell connection failed'));
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
    if (o.acked) unacked += frame.length;
    ws.send(frame, { binary: true }, () => resumeIfRoom());
    pauseIfFull();
  });
  ws.once('close', () => frames.end());
  term.stream.on('data', (chunk: Buffer) => frames.push(chunk));
  // Input waits for the shell: a paste faster than the container reads is not piled up here.
  let inputWaits = false;
  term.stream.on('drain', () => {
    if (inputWaits) {
      inputWaits = false;
      ws.resume();
    }
  });
  handle = (bytes, isBinary) => {
    if (isBinary) {
      if (!term.stream.write(bytes) && !inputWaits) {
        inputWaits = true;
        ws.pause();
      }
      return;
    }
    if (bytes.length > MAX_CONTROL_BYTES) {
      control({ type: 'error', message: `a control message is at most ${MAX_CONTROL_BYTES} bytes; got ${bytes.length} (keystrokes go as binary frames)` });
      return;
    }
    const msg = parseControl(bytes.toString('utf8'));
    if ('problem' in msg) control({ type: 'error', message: msg.problem });
    else if (msg.type === 'resize') term.resize(msg.cols, msg.rows).catch(() => undefined);
    else {
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
  const gone = await o.terminals.containerGone(o.jobId).catch(() => undefined);
  control(gone === undefined ? { type: 'exit', code } : { type: 'gone', code, message: gone });
  if (ws.readyState === ws.OPEN) ws.close(1000, 'shell exited');
}

/** terminals.open, given up after `ms`; a shell that opens later is closed at once. */
async function openWithin(terminals: DebugTerminals, jobId: string, size: { cols: number; rows: number }, ms: number): Promise<DebugTerminal> {
  let timer: NodeJS.Timeout | undefined;
  let late = false;
  const opening = terminals.open(jobId, size);
  opening.then((t) => { if (late) t.close(); }, () => undefined);
  try {
    return await Promise.race([opening, new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        late = true;
        reject(new Error(`the shell did not start within ${ms / 1000} s (Docker gave no answer): open the terminal again`));
      }, ms);
      timer.unref();
    })]);
  } finally {
    clearTimeout(timer);
  }
}
