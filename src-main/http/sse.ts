/**
 * Server-sent events: the live job log and the engine's live events.
 *
 * Job log stream (`GET /api/jobs/:id/log/stream`):
 *   - one unnamed message per log line: `id: <seq>` and `data: <LogLine as JSON>`;
 *   - resumes after the `Last-Event-ID` header (a reconnecting EventSource sends it) or from `?offset=`;
 *   - `event: end` (data `{"nextOffset":N}`) once the job has finished and every line was sent; the
 *     client should close then (an EventSource would otherwise reconnect and get `end` again);
 *   - `: heartbeat` comments keep proxies and the client's idle timers quiet.
 * No gap, no duplicate: the stream follows the log with the shared follower (shared/api/log-follower.ts),
 * which subscribes to live lines before reading the backlog from the store and passes every line
 * through the one LogSequencer the renderer's clients use too.
 */
import type { Request, Response } from 'express';
import { followJobLog } from '../../shared/api/log-follower.js';
import type { KilnEngine } from '../engine-contract.js';

export interface SseConnection {
  send(message: { id?: string | number; event?: string; data: unknown }): void;
  comment(text: string): void;
  close(): void;
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

const HEARTBEAT_MS = 15_000;

/**
 * Starts an event stream. `registry` collects the live streams of one server, so that its shutdown
 * can end them (they never end by themselves).
 */
export function openSse(req: Request, res: Response, registry?: Set<SseConnection>, heartbeatMs = HEARTBEAT_MS): SseConnection {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  const closers: (() => void)[] = [];
  let closed = false;
  const finish = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    registry?.delete(conn);
    for (const fn of closers) fn();
  };
  const heartbeat = setInterval(() => { if (!closed) res.write(': heartbeat\n\n'); }, heartbeatMs);
  heartbeat.unref();
  const conn: SseConnection = {
    send({ id, event, data }) {
      if (closed) return;
      let out = '';
      if (id !== undefined) out += `id: ${id}\n`;
      if (event) out += `event: ${event}\n`;
      // JSON never contains a raw newline, so one data line suffices.
      out += `data: ${JSON.stringify(data)}\n\n`;
      res.write(out);
    },
    comment(text) {
      if (!closed) res.write(`: ${text.replace(/[\r\n]/g, ' ')}\n\n`);
    },
    close() {
      if (closed) return;
      finish();
      res.end();
    },
    get closed() {
      return closed;
    },
    onClose(fn) {
      if (closed) fn();
      else closers.push(fn);
    },
  };
  registry?.add(conn);
  req.on('close', finish);
  res.on('close', finish);
  // Tells the client how long to wait before reconnecting.
  res.write('retry: 1000\n\n');
  return conn;
}

/** Where a log stream starts: after Last-Event-ID when present (reconnect), else ?offset=, else 0. */
export function logStartOffset(lastEventId: string | undefined, offset: unknown): number {
  if (lastEventId !== undefined && /^\d+$/.test(lastEventId.trim())) return Number(lastEventId.trim()) + 1;
  if (typeof offset === 'string' && /^\d+$/.test(offset)) return Number(offset);
  return 0;
}

/**
 * Streams one job's log: backlog from the store, then live lines, then `end`. Resolves when the
 * stream has ended (job complete or client gone). The caller checks that the job exists before
 * opening the stream; a store error afterwards is sent as `event: error` and ends the stream.
 */
export async function streamJobLog(engine: KilnEngine, jobId: string, start: number, conn: SseConnection): Promise<void> {
  if (conn.closed) return;
  await new Promise<void>((resolve) => {
    const stop = followJobLog(
      { getLog: (offset, limit) => engine.getLog(jobId, offset, limit), subscribe: (listener) => engine.subscribe(listener) },
      {
        jobId,
        from: start,
        onLines: (lines) => {
          for (const line of lines) conn.send({ id: line.seq, data: line });
        },
        onEnd: (nextOffset) => {
          conn.send({ event: 'end', data: { nextOffset } });
          conn.close();
        },
        onError: (err) => {
          conn.send({ event: 'error', data: { message: err instanceof Error ? err.message : String(err) } });
          conn.close();
        },
      },
    );
    conn.onClose(() => {
      stop();
      resolve();
    });
  });
}

/**
 * `GET /api/events`: every engine event except log lines (those have their own per-job stream), as
 * unnamed messages whose data is the EngineEvent (its `type` says which), so one onmessage handles all.
 */
export function streamEngineEvents(engine: KilnEngine, conn: SseConnection): void {
  const unsubscribe = engine.subscribe((event) => {
    if (event.type === 'log') return;
    conn.send({ data: event });
  });
  conn.onClose(unsubscribe);
}
