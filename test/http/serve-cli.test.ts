import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { startServe, type ServeChild } from '../helpers/serve-child.js';

describe('kiln serve', () => {
  let dir: string;
  let served: ServeChild | undefined;

  beforeAll(() => ensureBuilt());

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-serve-'));
    writeFileSync(join(dir, 'kiln.config.yml'), [
      'server: { host: 127.0.0.1, port: 7070 }',
      'repositories:',
      '  - name: acme/web',
      '    url: /srv/git/web.git',
      '    webhook-secrets: [s3cret]',
      '',
    ].join('\n'));
  });

  afterEach(() => {
    served?.kill();
    served = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the API on the printed URL and stops cleanly on SIGTERM', async () => {
    const s = await startServe({ args: ['--config', join(dir, 'kiln.config.yml'), '--data', join(dir, 'data'), '--port', '0'] });
    served = s;
    const { url } = s;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s.out()).toContain(`data ${join(dir, 'data')}`);
    const health = (await (await fetch(`${url}/api/health`)).json()) as { tunnel: { state: string } };
    expect(health.tunnel.state).toBe('disabled');
    const repos = (await (await fetch(`${url}/api/repositories`)).json()) as { name: string; webhookSecretCount: number }[];
    expect(repos).toEqual([expect.objectContaining({ name: 'acme/web', webhookSecretCount: 1 })]);
    expect((await fetch(`${url}/badges/acme/web.svg`)).status).toBe(200);

    expect(await s.stop()).toBe(0);
    expect(s.out()).toContain('SIGTERM, stopping');
  });

  it('says in one line that no Docker engine is reachable, and how to start or install it, then keeps serving', async () => {
    const socket = join(dir, 'no-such-docker.sock');
    const config = join(dir, 'empty.yml');
    writeFileSync(config, 'server: { host: 127.0.0.1, port: 7070 }\n');
    const s = await startServe({ args: ['--config', config, '--data', join(dir, 'data'), '--port', '0'], env: { ...process.env, DOCKER_HOST: `unix://${socket}` } });
    served = s;
    await s.waitFor(/no Docker engine/, 30_000);
    const { url } = s;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const err = s.err();
    // One line, naming where it looked and the fix; no error object, no stack trace.
    expect(err.split('\n').filter((l) => l !== '')).toEqual([
      expect.stringMatching(new RegExp(`^kiln serve: no Docker engine is reachable at DOCKER_HOST=unix://${socket.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(.*ENOENT.*\\), so jobs cannot run until one is: start Docker \\(\`sudo systemctl start docker\`, or open Docker Desktop\\) or install it \\(https://docs\\.docker\\.com/engine/install/\\)`)),
    ]);
    expect(err).not.toMatch(/\n\s+at |Error:|errno/);
    // Still serving: the dashboard's Docker indicator reads this.
    const health = (await (await fetch(`${url}/api/health`)).json()) as { ok: boolean; docker: { ok: boolean; message?: string } };
    expect(health.docker).toEqual({
      ok: false, message: expect.stringContaining('ENOENT'), engine: `local (unix://${socket}, from DOCKER_HOST)`, tried: [`DOCKER_HOST=unix://${socket}`],
    });
    expect(health.ok).toBe(false);
    expect((await fetch(`${url}/api/runs`)).status).toBe(200);
    expect(await s.stop()).toBe(0);
  });

  it('refuses to listen beyond loopback without an API token', () => {
    const r = spawnSync(process.execPath, ['bin/kiln.js', 'serve', '--config', join(dir, 'kiln.config.yml'), '--data', join(dir, 'data'), '--host', '0.0.0.0', '--port', '0'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without server\.api-token/);
  });

  it('rejects unknown options and bad ports with exit code 2', () => {
    const bad = spawnSync(process.execPath, ['bin/kiln.js', 'serve', '--bogus'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("unknown option '--bogus'");
    const port = spawnSync(process.execPath, ['bin/kiln.js', 'serve', '--port', 'http'], { encoding: 'utf8' });
    expect(port.status).toBe(2);
    expect(port.stderr).toContain('--port must be a port number');
  });

  it('reports a configuration problem as FILE:LINE:COL and exits 2', () => {
    const file = join(dir, 'bad.yml');
    writeFileSync(file, 'server: { host: 127.0.0.1, port: 7070 }\nrepositories:\n  - name: acme/web\n    url: /x\n    rate-limit: lots\n');
    const r = spawnSync(process.execPath, ['bin/kiln.js', 'serve', '--config', file, '--data', join(dir, 'data')], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:5:\\d+: .*rate`, 'm'));
  });
});
