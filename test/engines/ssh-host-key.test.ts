/**
 * An ssh:// engine's host key, checked as `ssh` checks it: Debian's sshd on loopback (reaching the
 * shared dockerd), known_hosts files written by the real ssh-keyscan and ssh-keygen, and the engine
 * pool's health pings reporting what was refused. Every test reads known_hosts files of its own (an
 * endpoint option, or HOME for `kiln run`), never the real ~/.ssh.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src-main/engine/engine.js';
import { DockerExecutor } from '../../src-main/executor/docker-executor.js';
import type { EngineEndpoint } from '../../src-main/executor/engines/engine-address.js';
import { EnginePool, type EngineStatus } from '../../src-main/executor/engines/engine-pool.js';
import { hostsFieldMatches } from '../../src-main/executor/engines/known-hosts.js';
import { parseConfig } from '../../src-main/settings/config-file.js';
import { harness, job, run, step } from '../executor/executor-helpers.js';
import { ensureBuilt } from '../helpers/build.js';
import { startSshServer, type SshServer } from '../helpers/ssh-server.js';
import { TEST_IMAGE } from '../helpers/test-image.js';

const KILN = resolve('bin/kiln.js');
let sshd: SshServer;
let dir: string;
let files = 0;
/** Another host's key: what a man in the middle would offer. */
let otherHostKey: string;

beforeAll(async () => {
  sshd = await startSshServer('/var/run/docker.sock');
  dir = mkdtempSync(join(tmpdir(), 'kiln-host-key-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other_host_key')]);
  otherHostKey = execFileSync('cat', [join(dir, 'other_host_key.pub')], { encoding: 'utf8' }).trim();
}, 60_000);
afterAll(async () => {
  await sshd?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const address = (): string => `ssh://root@127.0.0.1:${sshd.port}`;
const keyscan = (...args: string[]): string => execFileSync('ssh-keyscan', ['-t', 'ed25519', ...args, '-p', String(sshd.port), '127.0.0.1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

function knownHosts(text: string): string {
  const file = join(dir, `known_hosts_${++files}`);
  writeFileSync(file, text);
  return file;
}

function endpoint(extra: Partial<EngineEndpoint>): EngineEndpoint {
  return { name: 'remote', address: address(), sshKey: sshd.privateKey, knownHostsFiles: [], source: 'kiln.config.yml', ...extra };
}

/** The engine pool's view of the one engine after its first health ping. */
async function poolStatus(e: EngineEndpoint): Promise<EngineStatus> {
  const executor = new DockerExecutor({ instanceId: 'host-key-test', mirrorsDir: join(dir, 'mirrors'), endpoint: e });
  const pool = new EnginePool([{ name: e.name, address: e.address, source: e.source, limit: 1, labels: [], executor }], { pingIntervalMs: 60_000, pingTimeoutMs: 10_000, onDown: () => undefined, onUp: () => undefined, onError: () => undefined });
  try {
    pool.start();
    const deadline = Date.now() + 20_000;
    while (pool.statuses()[0].state === 'starting' || pool.statuses()[0].state === 'reaping') {
      if (Date.now() > deadline) throw new Error(`the engine stayed ${pool.statuses()[0].state}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return pool.statuses()[0];
  } finally {
    pool.stop();
  }
}

describe('an ssh:// engine whose host key known_hosts holds', () => {
  it('is up and runs a job with the [127.0.0.1]:port line ssh-keyscan writes', async () => {
    const line = keyscan();
    expect(line).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 `, 'm'));
    const e = endpoint({ knownHostsFiles: [knownHosts(line)] });
    expect(await poolStatus(e)).toMatchObject({ state: 'up' });
    const executor = new DockerExecutor({ instanceId: 'host-key-test', mirrorsDir: join(dir, 'mirrors'), endpoint: e });
    const h = harness({ docker: executor.docker });
    try {
      const { result, out } = await run(h, job([step('cat hello.txt')], { image: TEST_IMAGE }));
      expect(result.status, JSON.stringify(result)).toBe('passed');
      expect(out(0)).toContain('hello from the workspace');
    } finally {
      await h.cleanup();
      executor.close();
    }
  });

  it('is up with a hashed line (ssh-keyscan -H)', async () => {
    const line = keyscan('-H');
    expect(line).toMatch(/^\|1\|[^|]+\|[^ ]+ ssh-ed25519 /m);
    expect(await poolStatus(endpoint({ knownHostsFiles: [knownHosts(line)] }))).toMatchObject({ state: 'up' });
  });

  it('is up with a wildcard line, read from the second of the files', async () => {
    const files = [knownHosts(`other.example.com ${otherHostKey}\n`), knownHosts(`[127.0.0.*]:${sshd.port},!10.0.0.1 ${sshd.hostPublicKey}\n`)];
    expect(await poolStatus(endpoint({ knownHostsFiles: files }))).toMatchObject({ state: 'up' });
  });
});

describe('an ssh:// engine whose host key nobody vouched for', () => {
  it('is down, its last error naming the host, the key type, the fingerprint and the two ways to trust it', async () => {
    const logins = sshd.logins();
    const status = await poolStatus(endpoint({ knownHostsFiles: [knownHosts(`127.0.0.1 ${sshd.hostPublicKey}\n`)] }));
    expect(status.state).toBe('down');
    expect(status.lastError).toContain(`the SSH host key of 127.0.0.1:${sshd.port} is not known: the host offered ssh-ed25519 key ${sshd.hostFingerprint}`);
    expect(status.lastError).toContain('Kiln never trusts a host key on first use');
    expect(status.lastError).toContain(`\`ssh-keyscan -p ${sshd.port} 127.0.0.1 >> ~/.ssh/known_hosts\``);
    expect(status.lastError).toContain(`\`host-key: ${sshd.hostFingerprint}\` on the engine`);
    expect(sshd.logins() - logins, 'no login to an unverified host').toBe(0);
  });

  it('comes up once the key is added to known_hosts, without a restart', async () => {
    const file = knownHosts('');
    const executor = new DockerExecutor({ instanceId: 'host-key-test', mirrorsDir: join(dir, 'mirrors'), endpoint: endpoint({ knownHostsFiles: [file] }) });
    try {
      expect(await executor.ping()).toMatchObject({ ok: false, message: expect.stringContaining('is not known') });
      appendFileSync(file, keyscan());
      expect(await executor.ping()).toMatchObject({ ok: true });
    } finally {
      executor.close();
    }
  });

  it('is refused loudly as CHANGED when known_hosts holds another key for it', async () => {
    const file = knownHosts(`[127.0.0.1]:${sshd.port} ${otherHostKey}\n`);
    const status = await poolStatus(endpoint({ knownHostsFiles: [file] }));
    expect(status.state).toBe('down');
    expect(status.lastError).toContain(`WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED: the host key of 127.0.0.1:${sshd.port} has CHANGED: the host offered ssh-ed25519 key ${sshd.hostFingerprint}, but ${file}:1 holds another ssh-ed25519 key`);
    expect(status.lastError).toContain('man-in-the-middle');
  });

  it('is refused when its key is @revoked, even with a line trusting it', async () => {
    const file = knownHosts(`[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n@revoked * ${sshd.hostPublicKey}\n`);
    const status = await poolStatus(endpoint({ knownHostsFiles: [file] }));
    expect(status.state).toBe('down');
    expect(status.lastError).toContain(`the host key of 127.0.0.1:${sshd.port} (ssh-ed25519 key ${sshd.hostFingerprint}) is REVOKED by @revoked at ${file}:2`);
  });
});

describe('an ssh:// engine with host-key:', () => {
  it('is up when the fingerprint is the host\'s, with no known_hosts entry', async () => {
    expect(sshd.hostFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(await poolStatus(endpoint({ hostKey: sshd.hostFingerprint }))).toMatchObject({ state: 'up' });
  });

  it('is refused as CHANGED when the fingerprint is another key\'s, though known_hosts trusts the host', async () => {
    const wrong = execFileSync('ssh-keygen', ['-lf', join(dir, 'other_host_key.pub')], { encoding: 'utf8' }).split(' ')[1];
    const status = await poolStatus(endpoint({ hostKey: wrong, knownHostsFiles: [knownHosts(keyscan())] }));
    expect(status.state).toBe('down');
    expect(status.lastError).toContain(`WARNING: the host key of 127.0.0.1:${sshd.port} has CHANGED: engine 'remote' pins host-key: ${wrong}, but the host offered ssh-ed25519 key ${sshd.hostFingerprint}.`);
  });
});

describe('host-key: under engines: in kiln.config.yml', () => {
  it('reaches the engine pool: the right fingerprint is up, another is down as CHANGED', async () => {
    const wrong = execFileSync('ssh-keygen', ['-lf', join(dir, 'other_host_key.pub')], { encoding: 'utf8' }).split(' ')[1];
    writeFileSync(join(dir, 'id_kiln'), sshd.privateKey);
    const entry = (name: string, pin: string) => `  - name: ${name}\n    address: ${address()}\n    ssh-key: ${join(dir, 'id_kiln')}\n    host-key: ${pin}\n`;
    const { config, diagnostics } = parseConfig(`engines:\n${entry('pinned', sshd.hostFingerprint)}${entry('impostor', wrong)}`, join(dir, 'kiln.config.yml'));
    expect(diagnostics).toEqual([]);
    // With a pin, known_hosts is still read for @revoked lines: an empty HOME, not the real ~/.ssh.
    const home = process.env.HOME;
    process.env.HOME = mkdtempSync(join(dir, 'home-'));
    const engine = await Engine.start({ config: config!, dataDir: join(dir, 'engine-data'), engineHealth: { pingIntervalMs: 500, pingTimeoutMs: 5_000 } });
    try {
      const deadline = Date.now() + 30_000;
      let engines = (await engine.health()).engines ?? [];
      while (engines.some((e) => e.state === 'starting' || e.state === 'reaping') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        engines = (await engine.health()).engines ?? [];
      }
      expect(engines.map((e) => [e.name, e.state])).toEqual([['pinned', 'up'], ['impostor', 'down']]);
      expect(engines[1].lastError).toContain(`the host key of 127.0.0.1:${sshd.port} has CHANGED: engine 'impostor' pins host-key: ${wrong}`);
    } finally {
      await engine.stop();
      process.env.HOME = home;
    }
  });
});

describe('kiln run --engine ssh://', () => {
  let home: string;
  let work: string;
  beforeAll(() => {
    ensureBuilt();
    home = join(dir, 'home');
    work = join(dir, 'work');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    mkdirSync(work);
    writeFileSync(join(home, '.ssh', 'id_ed25519'), sshd.privateKey, { mode: 0o600 });
    writeFileSync(join(work, '.kiln.yml'), `name: over-ssh\njobs:\n  info:\n    image: ${TEST_IMAGE}\n    steps: [{ name: Say, run: echo over ssh }]\n`);
  });
  const kiln = (args: string[]) => {
    const r = spawnSync(process.execPath, [KILN, 'run', ...args], { cwd: work, encoding: 'utf8', timeout: 120_000, env: { ...process.env, HOME: home, SSH_AUTH_SOCK: '', DOCKER_HOST: '', DOCKER_CONTEXT: '', XDG_CACHE_HOME: join(dir, 'cache') } });
    return { code: r.status, out: r.stdout + r.stderr };
  };

  it('refuses an unknown host with the fingerprint, then runs once ~/.ssh/known_hosts has its key', () => {
    const refused = kiln(['--engine', address()]);
    expect(refused.code, refused.out).not.toBe(0);
    expect(refused.out).toContain(`the SSH host key of 127.0.0.1:${sshd.port} is not known: the host offered ssh-ed25519 key ${sshd.hostFingerprint}`);
    expect(refused.out).toContain(`known_hosts (none of ${join(home, '.ssh', 'known_hosts')}, ${join(home, '.ssh', 'known_hosts2')}, /etc/ssh/ssh_known_hosts`);
    writeFileSync(join(home, '.ssh', 'known_hosts'), keyscan('-H'));
    const passed = kiln(['--engine', address()]);
    expect(passed.code, passed.out).toBe(0);
    expect(passed.out).toContain('[info › Say] over ssh\n');
  });

  it('takes host-key: from a name under engines: in ./kiln.config.yml', () => {
    rmSync(join(home, '.ssh', 'known_hosts'), { force: true });
    writeFileSync(join(work, 'kiln.config.yml'), `engines:\n  - name: box\n    address: ${address()}\n    ssh-key: ${join(home, '.ssh', 'id_ed25519')}\n    host-key: ${sshd.hostFingerprint}\n`);
    const r = kiln(['--engine', 'box']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('[info › Say] over ssh\n');
  });
});

describe('the known_hosts matcher beside ssh-keygen -F', () => {
  it.each([
    ['*.example.com', 'build.example.com'],
    ['*.example.com,!secret.example.com', 'secret.example.com'],
    ['!secret.example.com,*.example.com', 'build.example.com'],
    ['!secret.example.com', 'other.example.com'],
    ['build?.example.com', 'build12.example.com'],
    ['BUILD.example.com', 'build.example.com'],
    ['build.example.com', '[build.example.com]:2222'],
    ['[*.example.com]:2222', '[build.example.com]:2222'],
    ['[build.example.com]:2222', 'build.example.com'],
    ['b.example.com.evil', 'b.example.com'],
    ['10.0.0.*', '10.0.0.5'],
  ])('agrees on whether %s covers %s', (field, name) => {
    const file = knownHosts(`${field} ${sshd.hostPublicKey}\n`);
    const openssh = spawnSync('ssh-keygen', ['-F', name, '-f', file]).status === 0;
    expect(hostsFieldMatches(field, name)).toBe(openssh);
  });
});
