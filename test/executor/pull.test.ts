import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { harness, job, leftovers, NONE, run, step } from './executor-helpers.js';
import type { Harness } from './executor-helpers.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForRegistry(port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the test registry did not start');
}

let registry: ChildProcess;
let registryDir: string;
let port: number;
let pushed: string;

// A real registry (Debian's docker-registry) on a free loopback port, holding an image this test pushed.
beforeAll(async () => {
  registryDir = mkdtempSync(join(tmpdir(), 'kiln-registry-'));
  port = await freePort();
  writeFileSync(
    join(registryDir, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(registryDir, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  registry = spawn('/usr/bin/docker-registry', ['serve', join(registryDir, 'config.yml')], { stdio: 'ignore' });
  await waitForRegistry(port);
  pushed = `127.0.0.1:${port}/kiln-test/pulled-${randomBytes(4).toString('hex')}:1`;
  execFileSync('docker', ['tag', TEST_IMAGE, pushed]);
  execFileSync('docker', ['push', '-q', pushed], { stdio: 'ignore' });
  execFileSync('docker', ['rmi', pushed], { stdio: 'ignore' });
});

afterAll(() => {
  try {
    execFileSync('docker', ['rmi', pushed], { stdio: 'ignore' });
  } catch {
    // not pulled (a failed test)
  }
  registry?.kill();
  rmSync(registryDir, { recursive: true, force: true });
});

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  await h.cleanup();
});

describe('images missing locally', () => {
  it('are pulled from their registry with progress lines, then the job runs', async () => {
    const phases: string[] = [];
    const r = await run(h, job([step('echo ran in the pulled image')], { image: pushed }), { onPhase: (p) => phases.push(p) });
    expect(r.result.status, r.all()).toBe('passed');
    // The timing view shows the pull apart from the rest of the set-up.
    expect(phases).toEqual(['setting_up', 'pulling', 'setting_up', 'steps', 'tearing_down', 'done']);
    expect(r.out(0)).toBe('ran in the pulled image');
    const system = r.lines.filter((l) => l.stream === 'system').map((l) => l.text);
    expect(system[0]).toBe(`pulling image ${pushed} from 127.0.0.1:${port}`);
    expect(system.some((t) => t.startsWith(`pull ${pushed}: `))).toBe(true);
    expect(system.some((t) => t.startsWith(`pulled image ${pushed} in `))).toBe(true);
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('fail the job with a clear infrastructure error when the registry does not have them', async () => {
    const missing = `127.0.0.1:${port}/kiln-test/never-pushed:1`;
    const r = await run(h, job([step('echo never')], { image: missing }));
    expect(r.result.status).toBe('failed');
    expect(r.result.infrastructure).toBe(true);
    expect(r.result.error).toMatch(new RegExp(`^image '${missing.replace(/[.]/g, '\\.')}' not found locally and could not be pulled from 127\\.0\\.0\\.1:${port}: .*(manifest unknown|not found)`, 'i'));
    expect(r.result.steps[0].status).toBe('skipped');
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('fail the job with a clear infrastructure error when the registry is unreachable', async () => {
    const closed = await freePort();
    const image = `127.0.0.1:${closed}/kiln-test/nowhere:1`;
    const r = await run(h, job([step('echo never')], { image }));
    expect(r.result.status).toBe('failed');
    expect(r.result.infrastructure).toBe(true);
    expect(r.result.error).toContain(`image '${image}' not found locally and could not be pulled from 127.0.0.1:${closed}: `);
    expect(r.result.error).toMatch(/connection refused/i);
  });
});
