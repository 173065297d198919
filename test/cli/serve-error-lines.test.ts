/**
 * `kiln serve`'s own output never shows a stack trace: a problem the engine meets on its own (here a
 * catch-up of a repository whose remote refuses connections) is one line naming what failed and why,
 * with the cause's message. KILN_DEBUG=1 adds the stack, for whoever debugs Kiln itself. The built
 * CLI runs as a real child process, as users run it.
 */
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { spawnServe, type ServeChild } from '../helpers/serve-child.js';

let root: string;
let config: string;
let refused: Server;
const served: ServeChild[] = [];

beforeAll(() => ensureBuilt(), 180_000);
beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'kiln-serve-errors-'));
  // A port that was just free and is closed again: connecting to it is refused at once.
  refused = createServer();
  await new Promise<void>((r) => refused.listen(0, '127.0.0.1', r));
  const port = (refused.address() as { port: number }).port;
  await new Promise<void>((r) => refused.close(() => r()));
  config = join(root, 'kiln.config.yml');
  writeFileSync(config, [
    'server: { host: 127.0.0.1, port: 7070 }',
    'repositories:',
    `  - { name: acme/web, url: "http://127.0.0.1:${port}/acme/web.git" }`,
    '',
  ].join('\n'));
});
afterEach(() => {
  for (const s of served.splice(0)) s.kill();
  rmSync(root, { recursive: true, force: true });
});

/** Runs kiln serve until its output has the catch-up failure, then stops it; resolves with all it printed. */
async function serveUntilCatchUpFails(env: NodeJS.ProcessEnv): Promise<string> {
  const s = spawnServe({ args: ['--config', config, '--data', join(root, 'data'), '--port', '0'], env: { ...process.env, KILN_DEBUG: undefined, ...env } });
  served.push(s);
  // The line and, under KILN_DEBUG=1, the stack after it (written in the same call).
  await s.waitFor(/catch-up of acme\/web failed.*\n/, 60_000);
  await s.stop();
  return s.output();
}

describe('kiln serve, when a repository\'s remote is unreachable', () => {
  it('says so in one line with the cause, and prints no stack trace', async () => {
    const output = await serveUntilCatchUpFails({});
    const line = output.split('\n').find((l) => l.includes('catch-up of acme/web failed'));
    expect(line).toMatch(/^kiln: catch-up of acme\/web failed \(retrying with backoff\): .*127\.0\.0\.1/);
    expect(output).not.toMatch(/^\s+at /m);
    expect(output).not.toContain('Error:');
  }, 90_000);

  it('adds the stack under KILN_DEBUG=1', async () => {
    const output = await serveUntilCatchUpFails({ KILN_DEBUG: '1' });
    expect(output).toMatch(/^kiln: catch-up of acme\/web failed \(retrying with backoff\): .*\nError: .*\n\s+at /m);
  }, 90_000);
});
