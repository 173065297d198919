import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src-main/http/app.js';
import { startFakeEngine } from '../helpers/fake-engine.js';

// docs/http-api.md is the API's reference for scripts: a route added to the app without a line
// there fails here, so the document cannot drift from the code.
interface Layer {
  rawPath?: string;
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
}

/** `METHOD /path` of every route the app registers, mounted routers included. */
function routesOf(stack: Layer[], prefix = ''): string[] {
  const out: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      for (const method of Object.keys(layer.route.methods)) out.push(`${method.toUpperCase()} ${prefix}${layer.route.path}`);
    } else if (layer.handle.stack) {
      out.push(...routesOf(layer.handle.stack, `${prefix}${layer.rawPath ?? ''}`));
    }
  }
  return out;
}

describe('docs/http-api.md', () => {
  const doc = readFileSync(new URL('../../docs/http-api.md', import.meta.url), 'utf8');
  const dir = mkdtempSync(join(tmpdir(), 'kiln-api-doc-'));
  let fake: Awaited<ReturnType<typeof startFakeEngine>>;
  let routes: string[];

  beforeAll(async () => {
    fake = await startFakeEngine({ extraRepositories: [{ name: 'acme/none', url: join(dir, 'none') }] });
    // With a built dashboard, so the page routes are registered too.
    writeFileSync(join(dir, 'index.html'), '<html><head></head><body></body></html>');
    const app = createApp({ engine: fake.engine, host: '127.0.0.1', staticDir: dir }) as Express & { router: { stack: Layer[] } };
    routes = routesOf(app.router.stack);
  });
  afterAll(async () => {
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sees the routes of the app and of the mounted /api router', () => {
    expect(routes).toContain('POST /webhooks/github');
    expect(routes).toContain('GET /api/runs/:id');
    expect(routes.length).toBeGreaterThan(40);
  });

  it('lists every route the HTTP app registers, as `METHOD /path`', () => {
    const missing = routes.filter((r) => !doc.includes(`\`${r}\``));
    expect(missing).toEqual([]);
  });

  it('lists no route the app does not have (the terminal WebSocket aside, an upgrade)', () => {
    const listed = [...doc.matchAll(/^\| `((?:GET|POST|PUT|DELETE|PATCH) \/[^`]*)`/gm)].map((m) => m[1]);
    expect(listed.filter((r) => !routes.includes(r) && r !== 'GET /api/jobs/:id/terminal')).toEqual([]);
  });
});
