/**
 * Docker engines saved through the HTTP API, against the real Engine and server and a real second
 * dockerd (its own network namespace, TCP with TLS): the TLS material pasted into the request is
 * kept only encrypted in the vault — not in kiln.config.yml, the database or any answer — and the
 * engine pool reaches the new engine with it at once and again after a restart. An SSH key pasted
 * for an ssh:// engine (Debian's sshd on loopback in front of the same dockerd) is kept the same
 * way. Bad input is refused naming the field; removing an engine removes its material.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Health } from '../../shared/api/engine-api.js';
import type { EngineSettings, SettingsView } from '../../shared/api/settings-types.js';
import type { RunDetail } from '../../shared/model/run.js';
import { Engine } from '../../src-main/engine/engine.js';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { defaultConfig, loadConfig } from '../../src-main/settings/config-file.js';
import { keyFileEncryptor, SecretVault } from '../../src-main/storage/secret-vault.js';
import { createRepo, repoConfig, TERMINAL, type TestRepo } from '../engine/engine-fixture.js';
import { startExtraEngine, type ExtraEngine } from '../helpers/second-engine.js';
import { startSshServer, type SshServer } from '../helpers/ssh-server.js';
import { TEST_IMAGE } from '../helpers/test-image.js';

let far: ExtraEngine;
let sshd: SshServer;
let root: string;

beforeAll(async () => {
  far = await startExtraEngine('cfg');
  sshd = await startSshServer(far.socket);
  root = mkdtempSync(join(tmpdir(), 'kiln-engine-settings-'));
}, 180_000);
afterAll(async () => {
  await sshd?.close();
  await far?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const pipeline = (script: string): string => `name: on-far
on: { push: { branches: [main] } }
jobs:
  build:
    image: ${TEST_IMAGE}
    runs-on: [tls]
    steps: [{ name: work, run: '${script}' }]
`;

async function send(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as unknown, text };
}

/** Every file of the data directory and the config, as text (the database and its WAL included). */
function filesHolding(dir: string, fragment: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (readFileSync(p).includes(fragment)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

describe('an engine saved through the settings API with pasted TLS material', () => {
  let dir: string;
  let dataDir: string;
  let configFile: string;
  let repo: TestRepo;
  let engine: Engine;
  let server: RunningServer;

  async function boot(): Promise<void> {
    const loaded = existsSync(configFile) ? loadConfig(configFile).config : undefined;
    const config = loaded ?? { ...defaultConfig(), repositories: [repoConfig(repo)] };
    engine = await Engine.start({ config, dataDir, configFile, onError: () => undefined, engineHealth: { pingIntervalMs: 300, pingTimeoutMs: 5000 } });
    server = await startServer({ engine, port: 0 });
  }
  async function shutdown(): Promise<void> {
    await server?.close();
    await engine?.stop();
  }
  async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, ms = 60_000): Promise<T> {
    const until = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const engines = async (): Promise<Health['engines']> => ((await send(server.url, 'GET', '/api/health')).json as Health).engines;
  async function push(script = 'echo ran on the far engine'): Promise<string> {
    const sha = repo.commit(pipeline(script));
    const outcome = await engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', sha, ref: 'refs/heads/main' });
    expect(outcome.runIds, outcome.reason).toHaveLength(1);
    return outcome.runIds[0];
  }
  const getRun = async (runId: string): Promise<RunDetail> => (await send(server.url, 'GET', `/api/runs/${runId}`)).json as RunDetail;
  const waitForRun = (runId: string): Promise<RunDetail> => waitFor(async () => {
    const run = await getRun(runId);
    return TERMINAL.includes(run.status) ? run : undefined;
  }, 'the run to end', 90_000);
  const runOnce = async (): Promise<RunDetail> => waitForRun(await push());

  beforeAll(async () => {
    dir = join(root, 'main');
    dataDir = join(dir, 'data');
    configFile = join(dir, 'kiln.config.yml');
    repo = createRepo(dir, 'acme/web');
    await boot();
  });
  afterAll(shutdown);

  // One line from the middle of the client key: recognisable, and in no PEM header.
  const keyFragment = (): string => far.tls.key.split('\n')[5];

  it('keeps the material only encrypted in the vault, answers which parts are set, and reaches the engine over TLS with it', async () => {
    const saved = await send(server.url, 'POST', '/api/engines', { name: 'far', address: far.address, limit: 2, labels: ['tls'], tls: far.tls });
    expect(saved.status, saved.text).toBe(201);
    // The first engine added: the answer also says whether it answered and that it replaced the default one.
    const { reachable, replaces, ...stored } = saved.json as EngineSettings;
    expect(stored).toEqual({ name: 'far', address: far.address, limit: 2, labels: ['tls'], tls: { ca: 'vault', cert: 'vault', key: 'vault' } } satisfies EngineSettings);
    expect(reachable).toBe(true);
    expect(replaces).toMatch(/^the default engine /);

    const fragment = keyFragment();
    expect(fragment).toMatch(/^[A-Za-z0-9+/=]{40,}$/);
    const settings = await send(server.url, 'GET', '/api/settings');
    expect((settings.json as SettingsView).engines).toEqual([stored]);
    for (const answer of [saved.text, settings.text]) expect(answer).not.toContain(fragment);
    // Nowhere in clear: not the config file, the vault, the database (and its WAL) or logs.
    expect(filesHolding(dir, fragment)).toEqual([]);
    const file = readFileSync(configFile, 'utf8');
    expect(file).toContain(`  - name: far\n    address: ${far.address}\n    limit: 2\n    labels: [ tls ]\n    tls: { ca: vault, cert: vault, key: vault }\n`);
    // The vault holds it (encrypted), under the engine's name.
    const vault = new SecretVault(join(dataDir, 'secrets.json'), keyFileEncryptor(join(dataDir, 'secret.key')));
    expect(vault.engineIndex()).toEqual({ far: ['ca', 'cert', 'key'] });
    expect(vault.loadEngines().far.key?.trim()).toBe(far.tls.key.trim());

    // Applied without a restart: the list replaces the engine docker uses, and 'far' is reached over TLS.
    await waitFor(async () => {
      const list = await engines();
      return list?.length === 1 && list[0].name === 'far' && list[0].state === 'up';
    }, "'far' to be up");
    const run = await runOnce();
    expect(run.status).toBe('passed');
    expect(run.jobs[0].engine).toBe('far');
    expect(filesHolding(dir, fragment)).toEqual([]);
  });

  it('reads the material from the vault again after a restart', async () => {
    await shutdown();
    await boot();
    await waitFor(async () => (await engines())?.find((e) => e.name === 'far')?.state === 'up', "'far' to be up after the restart");
    const run = await runOnce();
    expect(run.status).toBe('passed');
    expect(run.jobs[0].engine).toBe('far');
  });

  it.each([
    ['a CA that is not a certificate', () => ({ name: 'other', address: 'tcp://10.0.0.9:2376', tls: { ca: 'hello' } }), /^engines\[1\]\.tls\.ca: is not a PEM certificate/],
    ['a certificate that does not parse', () => ({ name: 'other', address: 'tcp://10.0.0.9:2376', tls: { cert: far.tls.cert.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!') } }), /^engines\[1\]\.tls\.cert: is not a valid PEM certificate/],
    ['a certificate given as the key', () => ({ name: 'other', address: 'tcp://10.0.0.9:2376', tls: { key: far.tls.cert } }), /^engines\[1\]\.tls\.key: is not a PEM private key/],
    ['a key of another certificate', () => ({ name: 'other', address: 'tcp://10.0.0.9:2376', tls: { cert: far.tls.cert, key: far.wrongTls.key } }), /^engines\[1\]\.tls\.key: does not belong to the client certificate/],
    ['an SSH key that is not a key', () => ({ name: 'other', address: 'ssh://builder@10.0.0.9', sshKey: 'ssh-ed25519 AAAAC3Nza' }), /^engines\[1\]\.ssh-key: is not a PEM private key/],
    ['TLS for an ssh:// engine', () => ({ name: 'other', address: 'ssh://builder@10.0.0.9', tls: { ca: far.tls.ca } }), /^engines\[1\]\.tls: TLS applies to tcp:\/\/ addresses only/],
    ['an address of no known kind', () => ({ name: 'other', address: 'http://10.0.0.9:2376' }), /^engines\[1\]\.address: 'http:\/\/10\.0\.0\.9:2376' is not an engine address/],
    ['a tcp:// address without a port', () => ({ name: 'other', address: 'tcp://10.0.0.9' }), /^engines\[1\]\.address: 'tcp:\/\/10\.0\.0\.9' names no port/],
    ['no address', () => ({ name: 'other' }), /^engines\[1\]\.address: required/],
    ['a bad host key', () => ({ name: 'other', address: 'ssh://b@h', hostKey: 'MD5:aa:bb' }), /^engines\[1\]\.host-key: is not an SSH host key fingerprint \(expected 'SHA256:'/],
    ['a limit of 0', () => ({ name: 'other', address: 'unix:///run/docker.sock', limit: 0 }), /^engines\[1\]\.limit: must be a whole number from 1 to 256/],
  ])('refuses %s with a 400 naming the field, and changes nothing', async (_what, body, message) => {
    const before = readFileSync(configFile, 'utf8');
    const vaultBefore = readFileSync(join(dataDir, 'secrets.json'), 'utf8');
    const answer = await send(server.url, 'POST', '/api/engines', body());
    expect(answer.status).toBe(400);
    expect((answer.json as { error: { message: string } }).error.message).toMatch(message);
    expect(answer.text).not.toContain(keyFragment());
    expect(readFileSync(configFile, 'utf8')).toBe(before);
    expect(readFileSync(join(dataDir, 'secrets.json'), 'utf8')).toBe(vaultBefore);
  });

  it('refuses a name another engine has with a 409 naming the field, and changes nothing', async () => {
    const before = readFileSync(configFile, 'utf8');
    const answer = await send(server.url, 'POST', '/api/engines', { name: 'far', address: 'tcp://10.0.0.9:2376' });
    expect(answer.status).toBe(409);
    expect((answer.json as { error: { message: string } }).error.message).toMatch(/^engines\[0\]\.name: an engine named 'far' is already configured/);
    expect(readFileSync(configFile, 'utf8')).toBe(before);
  });

  it('updates an engine in place (limit, labels) without touching its stored material', async () => {
    const updated = await send(server.url, 'PUT', '/api/engines/far', { limit: 3, labels: ['tls', 'big'] });
    expect(updated.status, updated.text).toBe(200);
    expect(updated.json).toMatchObject({ name: 'far', limit: 3, labels: ['tls', 'big'], tls: { ca: 'vault', cert: 'vault', key: 'vault' } });
    await waitFor(async () => (await engines())?.find((e) => e.name === 'far' && e.limit === 3 && e.labels.includes('big')) ?? false, 'the new limit to apply');
    expect((await engines())?.[0].state).toBe('up');
    expect((await send(server.url, 'PUT', '/api/engines/nosuch', { limit: 1 })).status).toBe(404);
  });

  it('keeps a pasted SSH key the same way and reaches an ssh:// engine with it', async () => {
    const keyLine = sshd.privateKey.split('\n')[3];
    const saved = await send(server.url, 'POST', '/api/engines', { name: 'remote', address: `ssh://root@127.0.0.1:${sshd.port}`, labels: ['ssh'], sshKey: sshd.privateKey, hostKey: sshd.hostFingerprint });
    expect(saved.status, saved.text).toBe(201);
    const { reachable: _reachable, warning: _warning, ...stored } = saved.json as EngineSettings;
    expect(stored).toEqual({ name: 'remote', address: `ssh://root@127.0.0.1:${sshd.port}`, limit: 2, labels: ['ssh'], hostKey: sshd.hostFingerprint, tls: {}, sshKey: 'vault' } satisfies EngineSettings);
    expect(readFileSync(configFile, 'utf8')).toContain(`  - name: remote\n    address: ssh://root@127.0.0.1:${sshd.port}\n    labels: [ ssh ]\n    host-key: ${sshd.hostFingerprint}\n    ssh-key: vault\n`);
    expect(filesHolding(dir, keyLine)).toEqual([]);
    // Up only if the key from the vault was accepted (sshd knows no other).
    await waitFor(async () => (await engines())?.find((e) => e.name === 'remote')?.state === 'up', "'remote' to be up over SSH", 30_000).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify((await engines())?.find((e) => e.name === 'remote'))}`);
    });
    expect((await send(server.url, 'DELETE', '/api/engines/remote')).status).toBe(200);
    const vault = new SecretVault(join(dataDir, 'secrets.json'), keyFileEncryptor(join(dataDir, 'secret.key')));
    expect(vault.engineIndex()).toEqual({ far: ['ca', 'cert', 'key'] });
  });

  it('removes the engine and its material: its running job finishes there, the vault forgets it, and the pool returns to the engine docker uses', async () => {
    const runId = await push('sleep 4; echo finished where it started');
    await waitFor(async () => (await getRun(runId)).jobs[0].status === 'running', 'the job to run on far');
    const removed = await send(server.url, 'DELETE', '/api/engines/far');
    expect(removed.status, removed.text).toBe(200);
    const run = await waitForRun(runId);
    expect(run.status).toBe('passed');
    expect(run.jobs[0].engine).toBe('far');
    expect(run.jobs[0].attempt).toBe(1);
    const vault = new SecretVault(join(dataDir, 'secrets.json'), keyFileEncryptor(join(dataDir, 'secret.key')));
    expect(vault.engineIndex()).toEqual({});
    expect(readFileSync(configFile, 'utf8')).not.toMatch(/engines:|far/);
    expect((await send(server.url, 'GET', '/api/settings')).json).toMatchObject({ engines: [] });
    await waitFor(async () => {
      const list = await engines();
      return list?.length === 1 && list[0].name !== 'far';
    }, 'the pool to drop far');
    expect((await send(server.url, 'DELETE', '/api/engines/far')).status).toBe(404);
  });
});
