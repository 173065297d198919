/**
 * A local stand-in for smee.io: GET /new answers with a redirect to a new channel (as smee.io does),
 * and what is POSTed to a channel is forwarded to Kiln's webhook endpoint (as the smee tunnel does).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SmeeStandIn { url: string; channels: string[]; forwarded: number; close(): Promise<void> }

export async function startSmee(forwardTo: () => string, redirect = true): Promise<SmeeStandIn> {
  const state = { channels: [] as string[], forwarded: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/new') {
        if (!redirect) { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html>no</html>'); return; }
        const channel = `/${randomBytes(8).toString('hex')}`;
        state.channels.push(channel);
        res.writeHead(307, { location: channel });
        res.end();
        return;
      }
      if (req.method === 'POST' && state.channels.includes(req.url ?? '')) {
        state.forwarded++;
        const headers: Record<string, string> = {};
        for (const h of ['content-type', 'x-github-event', 'x-github-delivery', 'x-hub-signature-256']) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h];
        void fetch(forwardTo(), { method: 'POST', headers, body: Buffer.concat(chunks) }).then(() => res.end('ok'), () => res.end('failed'));
        return;
      }
      res.writeHead(404);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, get channels() { return state.channels; }, get forwarded() { return state.forwarded; }, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

