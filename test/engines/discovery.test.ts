import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerExecutor } from '../../src-main/executor/docker-executor.js';
import { discoverLocalEngine } from '../../src-main/executor/engines/engine-address.js';
import { startExtraEngine, type ExtraEngine } from '../helpers/second-engine.js';

let engine: ExtraEngine;
let home: string;

beforeAll(async () => {
  engine = await startExtraEngine('second');
  home = mkdtempSync(join(tmpdir(), 'kiln-home-'));
});
afterAll(async () => {
  await engine?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** The docker CLI itself, with the temporary HOME. */
function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', env: { ...process.env, HOME: home, DOCKER_HOST: '', DOCKER_CONTEXT: '' } });
}

const executorFor = (env: Record<string, string | undefined>) => {
  const found = discoverLocalEngine({ ...env, HOME: home }, home);
  return new DockerExecutor({ instanceId: 'discovery-test', mirrorsDir: join(home, 'mirrors'), endpoint: found.endpoint });
};

describe('with no engines configured', () => {
  it('uses the current Docker context made by docker context create and selected with docker context use, with its TLS material', async () => {
    const certs = join(home, 'client');
    execFileSync('mkdir', ['-p', certs]);
    writeFileSync(join(certs, 'ca.pem'), engine.tls.ca);
    writeFileSync(join(certs, 'cert.pem'), engine.tls.cert);
    writeFileSync(join(certs, 'key.pem'), engine.tls.key);
    docker(['context', 'create', 'build-box', '--docker', `host=${engine.address},ca=${certs}/ca.pem,cert=${certs}/cert.pem,key=${certs}/key.pem`]);
    docker(['context', 'use', 'build-box']);
    // The docker CLI reaches it through the context: the setup is what a person would have.
    expect(docker(['info', '--format', '{{.DockerRootDir}}']).trim()).toBe(join(engine.dir, 'data'));

    const found = discoverLocalEngine({ HOME: home }, home);
    expect(found.endpoint).toMatchObject({ name: 'build-box', address: engine.address, source: "docker context 'build-box'" });
    expect(found.tried).toEqual(['DOCKER_HOST unset', `docker context 'build-box' (currentContext in ${join(home, '.docker', 'config.json')}) → ${engine.address}`]);
    const executor = executorFor({});
    const ping = await executor.ping();
    expect(ping).toMatchObject({ ok: true, engine: `build-box (${engine.address}, from docker context 'build-box')` });
    const info = await executor.docker.info() as { DockerRootDir: string };
    expect(info.DockerRootDir).toBe(join(engine.dir, 'data'));
  });

  it('prefers DOCKER_HOST over the context, and says so', async () => {
    const found = discoverLocalEngine({ HOME: home, DOCKER_HOST: `unix://${engine.socket}` }, home);
    expect(found.endpoint).toMatchObject({ address: `unix://${engine.socket}`, source: 'DOCKER_HOST' });
    expect((await executorFor({ DOCKER_HOST: `unix://${engine.socket}` }).ping()).ok).toBe(true);
  });

  it('falls back to the default socket when the context is "default"', () => {
    docker(['context', 'use', 'default']);
    const found = discoverLocalEngine({ HOME: home }, home);
    expect(found.endpoint).toMatchObject({ address: 'unix:///var/run/docker.sock', source: 'the default socket' });
    expect(found.tried.at(-1)).toBe('the default socket unix:///var/run/docker.sock');
  });
});

describe('a TLS engine', () => {
  it('refuses a client whose CA is not the engine\'s, with a clear error naming the engine', async () => {
    const executor = new DockerExecutor({
      instanceId: 'discovery-test', mirrorsDir: join(home, 'mirrors'),
      endpoint: { name: 'wrong-ca', address: engine.address, tls: engine.wrongTls, source: 'kiln.config.yml' },
    });
    const ping = await executor.ping();
    expect(ping.ok).toBe(false);
    expect(ping.message).toMatch(/^Docker engine not reachable: TLS: the engine's certificate is not signed by the CA configured for it \((self-signed certificate in certificate chain|unable to verify the first certificate)\)$/);
    expect(ping.engine).toBe(`wrong-ca (${engine.address}, from kiln.config.yml)`);
  });

  it('answers within the call timeout when the link to the engine is cut (a half-open connection hangs no caller)', async () => {
    const executor = new DockerExecutor({
      instanceId: 'discovery-test', mirrorsDir: join(home, 'mirrors'), callTimeoutMs: 2000,
      endpoint: { name: 'second', address: engine.address, tls: engine.tls, source: 'kiln.config.yml' },
    });
    expect((await executor.ping()).ok).toBe(true);
    engine.cut();
    try {
      const started = Date.now();
      const ping = await executor.ping();
      expect(ping.ok).toBe(false);
      expect(ping.message).toBe('Docker engine not reachable: the Docker engine did not answer /_ping within 2 s');
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      engine.heal();
    }
    expect((await executor.ping()).ok).toBe(true);
  });

  it('names a refused address as unreachable', async () => {
    const executor = new DockerExecutor({
      instanceId: 'discovery-test', mirrorsDir: join(home, 'mirrors'),
      endpoint: { name: 'nowhere', address: 'tcp://127.0.0.1:9', tls: engine.tls, source: 'kiln.config.yml' },
    });
    expect(await executor.ping()).toMatchObject({ ok: false, message: 'Docker engine not reachable: connect ECONNREFUSED 127.0.0.1:9' });
  });
});
