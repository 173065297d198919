/**
 * The terminal WebSocket's bounds and its resistance to bad input, on a real listening HTTP server
 * with real WebSocket clients. The shell is a stand-in that echoes (its opening can be held back, to
 * reach the moments before the shell is up); the same rules against a real kept container are in
 * test/debug/terminal-robustness.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { DebugTerminal, DebugTerminals } from '../../src-main/core/engine-contract.js';
import { parseControl } from '../../src-main/http/terminal-session.js';
import { terminalSockets, TICKET_TTL_MS, type TerminalSocketOptions, type TerminalSockets } from '../../src-main/http/terminal-ws.js';
import { openTerminal, type TerminalClient } from '../debug/terminal-client.js';

/** Shells that echo what is typed; `hold` keeps every open() pending until `release()`. */
function echoTerminals(o: { hold?: boolean; deaf?: boolean } = {}): DebugTerminals & { release(): void; opened: DebugTerminal[] } {
  let release: () => void = () => undefined;
  const gate = o.hold ? new Promise<void>((r) => { release = r; }) : Promise.resolve();
  const opened: DebugTerminal[] = [];
  return {
    opened,
    release: () => release(),
    isKept: (jobId) => jobId.startsWith('kept'),
    async open() {
      await gate;
      // deaf: a shell that never reads its input (a program that does not read stdin).
      const stream = o.deaf ? new Duplex({ read() {}, write() {}, highWaterMark: 1024 }) : new PassThrough();
      let ended: (code: number) => void = () => undefined;
      const exit = new Promise<number>((r) => { ended = r; });
      const t: DebugTerminal = { stream, exit, resize: () => Promise.resolve(), close: () => { stream.destroy(); ended(0); } };
      opened.push(t);
      return t;
    },
    containerGone: () => Promise.resolve(undefined),
  };
}

/** How a socket ended, once it has. */
function closedWith(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    if (ws.readyState === ws.CLOSED) resolve({ code: -1, reason: 'closed already' });
    ws.on('error', () => undefined);
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}

describe('the terminal WebSocket', () => {
  let server: Server | undefined;
  let sockets: TerminalSockets | undefined;
  const clients: TerminalClient[] = [];
  let base = '';

  async function listen(terminals: DebugTerminals, extra: Partial<TerminalSocketOptions> = {}): Promise<void> {
    sockets = terminalSockets({ terminals, guard: { allowedHosts: () => [], sessionSecret: 'x'.repeat(64) }, ...extra });
    server = createServer((_req, res) => res.end('ok'));
    server.on('upgrade', (req, socket, head) => { if (!sockets!.handle(req, socket, head)) socket.destroy(); });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/api/jobs`;
  }
  const open = async (jobId = 'kept-1', query = ''): Promise<TerminalClient> => {
    const t = await openTerminal(`${base}/${jobId}/terminal${query}`);
    clients.push(t);
    return t;
  };
  /** The terminal still works: typed text comes back. */
  const echoes = async (t: TerminalClient, text: string): Promise<void> => {
    const from = t.output().length;
    t.type(text);
    await t.waitFor(text, { from, timeoutMs: 5000 });
  };
  const ready = async (t: TerminalClient): Promise<void> => {
    for (let i = 0; i < 250 && !t.controls().some((c) => c.type === 'ready'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(t.controls().map((c) => c.type)).toContain('ready');
  };

  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    sockets?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  describe('given a frame it cannot accept', () => {
    it.each([
      ['a 2 MiB binary frame (over the 1 MiB limit)', (ws: WebSocket) => ws.send(Buffer.alloc(2 * 1024 * 1024, 0x61), { binary: true }), 1009],
      ['a text frame that is not UTF-8', (ws: WebSocket) => ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false }), 1007],
    ])('closes that socket on %s and keeps serving the others', async (_what, send, code) => {
      await listen(echoTerminals());
      const other = await open('kept-1');
      await ready(other);
      const bad = await open('kept-1');
      await ready(bad);
      const ended = closedWith(bad.ws);
      send(bad.ws);
      expect((await ended).code).toBe(code);
      await echoes(other, 'still-here');
      await echoes(await open('kept-2'), 'a-new-one');
    });
  });

  it('answers a text frame over the control size with an error, and goes on', async () => {
    await listen(echoTerminals());
    const t = await open();
    await ready(t);
    t.ws.send(JSON.stringify({ type: 'resize', cols: 80, rows: 24, pad: 'x'.repeat(2000) }));
    for (let i = 0; i < 100 && !t.controls().some((c) => c.type === 'error'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(t.controls().filter((c) => c.type === 'error').map((c) => c.message)).toEqual([expect.stringMatching(/^a control message is at most 1024 bytes; got \d+/)]);
    await echoes(t, 'after-a-big-text-frame');
  });

  it('answers text frames that are not control messages with an error, and goes on', async () => {
    await listen(echoTerminals());
    const t = await open();
    await ready(t);
    const frames = ['null', '[]', '1', '"x"', 'true', '{}', '{"type":"resize"}', '{"type":"resize","cols":"a","rows":2}', '{"type":"ack","bytes":null}', '{"type":"nope"}', 'not json'];
    for (const f of frames) t.ws.send(f);
    for (let i = 0; i < 250 && t.controls().filter((c) => c.type === 'error').length < frames.length; i++) await new Promise((r) => setTimeout(r, 20));
    const errors = t.controls().filter((c) => c.type === 'error');
    expect(errors).toHaveLength(frames.length);
    for (const e of errors) expect(String(e.message)).toMatch(/control message|resize message|ack message/);
    t.resize(100, 30);
    await echoes(t, 'after-bad-frames');
  });

  it.each([
    ['null', 'a text frame must be a JSON control message'],
    ['[1]', 'a text frame must be a JSON control message'],
    ['{"type":"resize","cols":0,"rows":5}', 'a resize message needs cols and rows as positive numbers'],
    ['{"type":"ack","bytes":-1}', 'an ack message needs bytes as a positive number'],
    ['{"type":7}', 'unknown control message type 7'],
  ])('reads the text frame %s as no control message: %s', (text, problem) => {
    const parsed = parseControl(text);
    expect('problem' in parsed && parsed.problem).toContain(problem);
  });

  it('reads resize and ack frames', () => {
    expect(parseControl('{"type":"resize","cols":120,"rows":40}')).toEqual({ type: 'resize', cols: 120, rows: 40 });
    expect(parseControl('{"type":"ack","bytes":4096}')).toEqual({ type: 'ack', bytes: 4096 });
  });

  describe('limits', () => {
    it('refuses a terminal beyond the per-job cap with 429 before the handshake, and accepts one again once one closes', async () => {
      await listen(echoTerminals(), { limits: { perJob: 3 } });
      const three = [await open(), await open(), await open()];
      await expect(open()).rejects.toMatchObject({ status: 429, body: expect.stringContaining('3 terminals are open into this job') });
      await echoes(await open('kept-other'), 'other-job-fine');
      await three[0].close();
      await echoes(await open(), 'room-again');
    });

    it('refuses a terminal beyond the server-wide cap with 429', async () => {
      await listen(echoTerminals(), { limits: { total: 2 } });
      await open('kept-a');
      await open('kept-b');
      await expect(open('kept-c')).rejects.toMatchObject({ status: 429, body: expect.stringContaining('2 terminals are open on this server') });
    });

    it('keeps input typed before the shell is up, up to the early-input bound, and writes it in order', async () => {
      const terminals = echoTerminals({ hold: true });
      await listen(terminals, { limits: { earlyBytes: 1024 } });
      const t = await open();
      t.type('ab');
      t.type('cd');
      await new Promise((r) => setTimeout(r, 100));
      terminals.release();
      await t.waitFor('abcd', { timeoutMs: 5000 });
    });

    it('closes the socket (1008) once more than the early-input bound is typed before the shell is up, and opens no shell', async () => {
      const terminals = echoTerminals({ hold: true });
      await listen(terminals, { limits: { earlyBytes: 64 * 1024 } });
      const t = await open();
      const ended = closedWith(t.ws);
      for (let i = 0; i < 80; i++) t.ws.send(Buffer.alloc(1024, 0x61), { binary: true });
      const { code, reason } = await ended;
      expect(code).toBe(1008);
      expect(reason).toBe('more than 65536 bytes typed before the shell was ready');
      terminals.release();
      await new Promise((r) => setTimeout(r, 100));
      expect(terminals.opened.every((o) => o.stream.destroyed)).toBe(true);
    });

    it('gives up a shell that does not open in time, saying so, and closes the late one', async () => {
      const terminals = echoTerminals({ hold: true });
      await listen(terminals, { limits: { openTimeoutMs: 300 } });
      const t = await open();
      const ended = closedWith(t.ws);
      expect((await ended).code).toBe(1011);
      expect(t.controls()).toEqual([{ type: 'error', message: 'the shell did not start within 0.3 s (Docker gave no answer): open the terminal again' }]);
      terminals.release();
      await new Promise((r) => setTimeout(r, 100));
      expect(terminals.opened).toHaveLength(1);
      expect(terminals.opened[0].stream.destroyed).toBe(true);
    });

    it('drops a peer that does not answer pings, which frees its place', async () => {
      await listen(echoTerminals(), { limits: { pingMs: 100, perJob: 1 } });
      const t = await open();
      await ready(t);
      // A peer that stopped reading its socket answers no ping.
      const raw = (t.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      raw.pause();
      await new Promise((r) => setTimeout(r, 600));
      raw.resume();
      const ended = await Promise.race([closedWith(t.ws), new Promise<'open'>((r) => setTimeout(() => r('open'), 3000))]);
      expect(ended).not.toBe('open');
      await echoes(await open(), 'its-place-is-free');
    });
  });

  it('closes a terminal whose shell leaves its input unread for three ping periods', async () => {
    await listen(echoTerminals({ deaf: true }), { limits: { pingMs: 100 } });
    const t = await open();
    await ready(t);
    const ended = closedWith(t.ws);
    t.ws.send(Buffer.alloc(256 * 1024, 0x61));
    const result = await Promise.race([ended, new Promise<'open'>((r) => setTimeout(() => r('open'), 5000))]);
    expect(result).toEqual({ code: 1008, reason: 'the shell has not read its input for a long time' });
  });

  describe("the desktop app's one-time tickets", () => {
    it('open a terminal within a minute of minting and are refused after it', async () => {
      let clock = 1_000_000;
      await listen(echoTerminals(), { now: () => clock });
      const fresh = sockets!.mintTicket('kept-1');
      clock += TICKET_TTL_MS - 1;
      await echoes(await open('kept-1', `?ticket=${fresh}`), 'ticket-ok');
      const stale = sockets!.mintTicket('kept-1');
      clock += TICKET_TTL_MS;
      await expect(open('kept-1', `?ticket=${stale}`)).rejects.toMatchObject({ status: 403, body: expect.stringContaining('unknown, used or expired') });
    });
  });
});
