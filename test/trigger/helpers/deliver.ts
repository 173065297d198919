/** Sends webhook deliveries to a listening Kiln server, the way GitHub does. */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { signGithub } from '../../../src-main/trigger/signature.js';

import { FIXTURES } from '../../helpers/fixtures.js';
export { FIXTURES };

export function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

/** The signed event time of a fixture (push: repository.pushed_at seconds; pull_request: updated_at), in ms. */
export function eventTimeOf(body: Buffer): number {
  const p = JSON.parse(body.toString('utf8')) as { repository?: { pushed_at?: number | string }; pull_request?: { updated_at: string } };
  if (p.pull_request) return Date.parse(p.pull_request.updated_at);
  const pushed = p.repository?.pushed_at;
  if (typeof pushed === 'number') return pushed * 1000;
  if (typeof pushed === 'string') return Date.parse(pushed);
  return Date.UTC(2024, 0, 1);
}

export interface Delivery {
  event: string;
  body: Buffer | string;
  /** Signs the body with this secret (unless `signature` is given). */
  secret?: string;
  signature?: string | null;
  deliveryId?: string;
  headers?: Record<string, string>;
}

export interface DeliveryAnswer {
  status: number;
  headers: Headers;
  json: { ok: boolean; outcome: string; reason: string; runIds: string[]; deliveryId: string };
}

export async function deliver(baseUrl: string, d: Delivery): Promise<DeliveryAnswer> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/test',
    'x-github-event': d.event,
    'x-github-delivery': d.deliveryId ?? randomUUID(),
    ...d.headers,
  };
  const signature = d.signature !== undefined ? d.signature : d.secret !== undefined ? signGithub(d.secret, d.body) : null;
  if (signature !== null) headers['x-hub-signature-256'] = signature;
  const res = await fetch(`${baseUrl}/webhooks/github`, { method: 'POST', headers, body: typeof d.body === 'string' ? d.body : new Uint8Array(d.body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: JSON.parse(text) as DeliveryAnswer['json'] };
}

/** A raw HTTP/1.1 request with header names exactly as given (fetch would normalise them). */
export function rawPost(baseUrl: string, path: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number; body: string }> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    for (const [k, v] of Object.entries(headers)) req.setHeader(k, v);
    req.setHeader('Content-Length', String(body.length));
    req.end(body);
  });
}
