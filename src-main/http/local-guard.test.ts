import type { IncomingMessage } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkHost, checkOrigin, loadSessionSecret, withSessionMeta } from './local-guard.js';

const LOCAL = { address: '127.0.0.1', port: 7070 };
const SECRET = 'a'.repeat(64);

describe('the Host allow-list', () => {
  it.each([
    ['127.0.0.1:7070'], ['localhost:7070'], ['[::1]:7070'], ['LocalHost:7070'],
  ])('accepts %s, a loopback name with the listening port', (host) => {
    expect(checkHost(host, LOCAL, [])).toEqual({ ok: true });
  });

  it.each([
    ['a rebinding name', 'evil.example:7070'],
    ['a rebinding name in mixed case', 'Evil.Example:7070'],
    ['a name that starts like localhost', 'localhost.evil.example:7070'],
    ['a port mismatch', '127.0.0.1:7071'],
    ['no port (port 80)', 'localhost'],
    ['an unbracketed IPv6 loopback', '::1:7070'],
    ['a long IPv6 loopback form', '[0:0:0:0:0:0:0:1]:7070'],
    ['an IPv4-mapped IPv6 loopback', '[::ffff:127.0.0.1]:7070'],
    ['another loopback address', '127.0.0.2:7070'],
    ['a trailing dot', 'localhost.:7070'],
    ['userinfo', 'user@127.0.0.1:7070'],
    ['an empty Host', ''],
    ['no Host at all', undefined],
  ])('refuses %s with 421 and a one-line reason', (_what, host) => {
    const verdict = checkHost(host, LOCAL, []);
    expect(verdict).toMatchObject({ ok: false, status: 421 });
    expect(verdict.ok ? '' : verdict.reason).toMatch(/^Host '.*' is not a name of this server: .*server\.allowed-hosts\)$/);
  });

  it('accepts the address the connection arrived on when the server is bound beyond loopback', () => {
    expect(checkHost('192.168.1.5:7070', { address: '192.168.1.5', port: 7070 }, [])).toEqual({ ok: true });
    expect(checkHost('[fd00::5]:7070', { address: 'fd00::5', port: 7070 }, [])).toEqual({ ok: true });
    expect(checkHost('192.168.1.5:7070', { address: '::ffff:192.168.1.5', port: 7070 }, [])).toEqual({ ok: true });
    expect(checkHost('192.168.1.6:7070', { address: '192.168.1.5', port: 7070 }, [])).toMatchObject({ ok: false });
  });

  it('accepts names from server.allowed-hosts: any port without one, only that port with one', () => {
    const allowed = ['ci.example.com', 'kiln.local:8443'];
    expect(checkHost('ci.example.com', LOCAL, allowed)).toEqual({ ok: true });
    expect(checkHost('CI.example.com:9000', LOCAL, allowed)).toEqual({ ok: true });
    expect(checkHost('kiln.local:8443', LOCAL, allowed)).toEqual({ ok: true });
    expect(checkHost('kiln.local:7070', LOCAL, allowed)).toMatchObject({ ok: false, status: 421 });
    expect(checkHost('evil.ci.example.com', LOCAL, allowed)).toMatchObject({ ok: false, status: 421 });
  });
});

function request(method: string, headers: Record<string, string>): IncomingMessage {
  return { method, headers: { host: '127.0.0.1:7070', ...headers } } as unknown as IncomingMessage;
}

describe('the Origin and session-secret rules', () => {
  const api = { isApi: true };
  const json = { 'content-type': 'application/json' };
  it.each([
    ['a CLI GET (no Origin)', 'GET', {}],
    ['a CLI POST with a JSON body (no Origin)', 'POST', json],
    ['a CLI POST without a body', 'POST', {}],
    ['the dashboard\'s GET', 'GET', { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' }],
    ['the dashboard\'s PUT with its secret', 'PUT', { ...json, origin: 'http://127.0.0.1:7070', 'sec-fetch-site': 'same-origin', 'x-kiln-session': SECRET }],
    ['a PUT behind a TLS proxy with its secret', 'PUT', { ...json, origin: 'https://127.0.0.1:7070', 'x-kiln-session': SECRET }],
    ['a cross-site navigation to an artifact', 'GET', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' }],
    ['a URL typed into the address bar', 'GET', { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate' }],
  ])('lets %s through', (_what, method, headers) => {
    expect(checkOrigin(request(method, headers), SECRET, api)).toEqual({ ok: true });
  });

  it.each([
    ['a GET from another origin', 'GET', { origin: 'http://127.0.0.1:8080' }, 403],
    ['a GET from the null origin', 'GET', { origin: 'null' }, 403],
    ['a cross-site fetch without Origin', 'GET', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' }, 403],
    ['a same-site fetch from another port', 'GET', { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors' }, 403],
    ['a POST from another origin, even with the secret', 'POST', { ...json, origin: 'http://evil.example', 'x-kiln-session': SECRET }, 403],
    ['a POST with our origin in mixed case', 'POST', { ...json, origin: 'HTTP://127.0.0.1:7070', 'x-kiln-session': SECRET }, 403],
    ['a POST with our origin but no secret', 'POST', { ...json, origin: 'http://127.0.0.1:7070' }, 403],
    ['a POST with our origin and a wrong secret', 'POST', { ...json, origin: 'http://127.0.0.1:7070', 'x-kiln-session': 'b'.repeat(64) }, 403],
    ['a same-origin POST (Sec-Fetch-Site only) without the secret', 'POST', { ...json, 'sec-fetch-site': 'same-origin' }, 403],
    ['a cross-site navigation that POSTs a form', 'POST', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'content-type': 'application/x-www-form-urlencoded' }, 403],
    ['a form post without Origin (an old browser)', 'POST', { 'content-type': 'application/x-www-form-urlencoded' }, 400],
    ['a text/plain post without Origin', 'DELETE', { 'content-type': 'text/plain;charset=UTF-8' }, 400],
    ['a multipart post without Origin', 'PATCH', { 'content-type': 'multipart/form-data; boundary=x' }, 400],
  ])('refuses %s', (_what, method, headers, status) => {
    expect(checkOrigin(request(method, headers), SECRET, api)).toMatchObject({ ok: false, status });
  });

  it('holds a WebSocket handshake from a browser to the dashboard\'s origin', () => {
    const ws = { isApi: true, upgrade: true };
    expect(checkOrigin(request('GET', { origin: 'http://127.0.0.1:7070' }), SECRET, ws)).toEqual({ ok: true });
    expect(checkOrigin(request('GET', { origin: 'http://evil.example:7070' }), SECRET, ws)).toMatchObject({ ok: false, status: 403 });
    expect(checkOrigin(request('GET', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'websocket' }), SECRET, ws)).toMatchObject({ ok: false, status: 403 });
  });

  it('lets another site load the dashboard\'s pages and scripts, which it cannot read', () => {
    expect(checkOrigin(request('GET', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' }), SECRET, { isApi: false })).toEqual({ ok: true });
  });
});

describe('the session secret', () => {
  it('is created once per data directory, private to the user, and kept across restarts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-guard-'));
    try {
      const first = loadSessionSecret(dir);
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      expect(loadSessionSecret(dir)).toBe(first);
      expect(statSync(join(dir, 'session-secret')).mode & 0o077).toBe(0);
      writeFileSync(join(dir, 'session-secret'), 'damaged');
      const replaced = loadSessionSecret(dir);
      expect(replaced).not.toBe(first);
      expect(readFileSync(join(dir, 'session-secret'), 'utf8').trim()).toBe(replaced);
      expect(statSync(join(dir, 'session-secret')).mode & 0o077).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('goes into the page as a meta tag at the top of <head>', () => {
    expect(withSessionMeta('<!doctype html><html><head lang="en"><title>K</title></head></html>', SECRET))
      .toBe(`<!doctype html><html><head lang="en"><meta name="kiln-session" content="${SECRET}"><title>K</title></head></html>`);
  });
});
