/**
 * The `kiln serve` launcher the CLI, full-disk and dashboard suites share: a start that fails says
 * how and shows what the process printed, instead of waiting out its deadline or passing silently.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './build.js';
import { startServe } from './serve-child.js';

beforeAll(() => ensureBuilt(), 180_000);

describe('when kiln serve exits before it listens', () => {
  it('rejects at once with its exit code and what it printed', async () => {
    const started = Date.now();
    await expect(startServe({ args: ['--port', 'http'], timeoutMs: 60_000 })).rejects.toThrow(/^kiln serve exited \(2\) before printing .*listening.*; it printed:\n.*--port must be a port number/s);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe('when the awaited line never comes', () => {
  it('rejects after the timeout with what kiln serve printed, and stop() then ends it with exit code 0, also when called again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-serve-child-'));
    const s = await startServe({ args: ['--data', join(dir, 'data'), '--port', '0'] });
    try {
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(s.port).toBe(Number(s.url.split(':')[2]));
      await expect(s.waitFor(/never printed/, 1_000)).rejects.toThrow(/^kiln serve printed no \/never printed\/ within 1 s; it printed:\n.*listening on http/s);
      expect(await s.stop()).toBe(0);
      expect(await s.stop()).toBe(0);
    } finally {
      s.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
