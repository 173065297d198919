// The page's terminal socket against a real WebSocket server on loopback (the `ws` package's client
// stands in for the browser's WebSocket, which Node 20 lacks): a paste bigger than the server's 1 MiB
// frame limit reaches it whole, in pieces the server accepts.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket, WebSocketServer } from 'ws';
import { connectTerminal } from '../../src-renderer/views/debug/terminal-socket.js';

let server: WebSocketServer;
let url: string;
const received: Buffer[] = [];

beforeAll(async () => {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1024 * 1024 });
  await once(server, 'listening');
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/terminal`;
  server.on('connection', (ws) => {
    ws.on('message', (data: Buffer, isBinary) => { if (isBinary) received.push(data); });
    ws.send(JSON.stringify({ type: 'ready' }));
  });
  (globalThis as { WebSocket?: unknown }).WebSocket = NodeWebSocket;
});

afterAll(async () => {
  delete (globalThis as { WebSocket?: unknown }).WebSocket;
  server.close();
});

describe('the terminal socket', () => {
  it('sends a 2.5 MiB paste in pieces of at most 64 KiB that add up to the paste', async () => {
    const paste = 'echo pasted-line\n'.repeat(Math.ceil((2.5 * 1024 * 1024) / 17));
    const closed: string[] = [];
    const socket = await new Promise<ReturnType<typeof connectTerminal>>((resolve) => {
      const s = connectTerminal(url, { cols: 80, rows: 24 }, {
        onOutput: () => undefined,
        onReady: () => resolve(s),
        onExit: () => undefined,
        onProblem: (m: string) => closed.push(m),
        onClose: () => closed.push('closed'),
      });
    });
    socket.send(paste);
    const total = Buffer.byteLength(paste);
    const deadline = Date.now() + 10_000;
    while (received.reduce((n, b) => n + b.length, 0) < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(Buffer.concat(received).toString()).toBe(paste);
    expect(received.length).toBeGreaterThan(1);
    expect(Math.max(...received.map((b) => b.length))).toBeLessThanOrEqual(64 * 1024);
    expect(closed).toEqual([]);
    socket.close();
  });
});
