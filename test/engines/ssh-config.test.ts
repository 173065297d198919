/**
 * An ssh:// engine named by a Host alias of the user's ~/.ssh/config, as `docker -H ssh://alias`
 * would follow it: Debian's sshd on loopback (reaching the shared dockerd), host keys from the real
 * ssh-keyscan, and a config file of the test's own. HOME is an empty folder of this file's own and
 * no ssh-agent is offered, so the only way in is the key the config names.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerExecutor } from '../../src-main/executor/docker-executor.js';
import type { EngineEndpoint } from '../../src-main/executor/engines/engine-address.js';
import { harness, job, run, step } from '../executor/executor-helpers.js';
import { ensureBuilt } from '../helpers/build.js';
import { startSshServer, type SshServer } from '../helpers/ssh-server.js';
import { TEST_IMAGE } from '../helpers/test-image.js';

const KILN = resolve('bin/kiln.js');
let sshd: SshServer;
let dir: string;
let key: string;
let files = 0;
/** Another host's key line: what a man in the middle would offer. */
let otherHostKey: string;
const saved = { HOME: process.env.HOME, SSH_AUTH_SOCK: process.env.SSH_AUTH_SOCK };

beforeAll(async () => {
  sshd = await startSshServer('/var/run/docker.sock');
  dir = mkdtempSync(join(tmpdir(), 'kiln-ssh-config-'));
  key = join(dir, 'id_kiln');
  writeFileSync(key, sshd.privateKey, { mode: 0o600 });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other_host_key')]);
  otherHostKey = execFileSync('cat', [join(dir, 'other_host_key.pub')], { encoding: 'utf8' }).trim();
  process.env.HOME = mkdtempSync(join(dir, 'home-'));
  delete process.env.SSH_AUTH_SOCK;
}, 60_000);
afterAll(async () => {
  process.env.HOME = saved.HOME;
  if (saved.SSH_AUTH_SOCK !== undefined) process.env.SSH_AUTH_SOCK = saved.SSH_AUTH_SOCK;
  await sshd?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const keyscan = (): string => execFileSync('ssh-keyscan', ['-t', 'ed25519', '-p', String(sshd.port), '127.0.0.1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

function file(text: string): string {
  const path = join(dir, `file_${++files}`);
  writeFileSync(path, text);
  return path;
}

/** The `build-box` alias as a user would write it; `extra` lines go into its block. */
function buildBox(extra: string[] = [], knownHosts = file(keyscan())): string {
  return [
    'Host build-box', '  HostName 127.0.0.1', '  User root', `  Port ${sshd.port}`,
    '  IdentityFile ~/.ssh/no_such_key', `  IdentityFile ${key}`, `  UserKnownHostsFile ${knownHosts}`, ...extra.map((l) => `  ${l}`),
    '', 'Host *', '  Port 1', '  User nobody', '',
  ].join('\n');
}

function executor(address: string, sshConfig: string, extra: Partial<EngineEndpoint> = {}): DockerExecutor {
  return new DockerExecutor({ instanceId: 'ssh-config-test', mirrorsDir: join(dir, 'mirrors'), endpoint: { name: 'remote', address, sshConfigFile: sshConfig, source: 'kiln.config.yml', ...extra } });
}

async function ping(address: string, sshConfig: string, extra: Partial<EngineEndpoint> = {}): Promise<{ ok: boolean; message?: string }> {
  const e = executor(address, sshConfig, extra);
  try {
    return await e.ping(10_000);
  } finally {
    e.close();
  }
}

describe('ssh://ALIAS with a Host block in ~/.ssh/config', () => {
  it('connects to its HostName and Port as its User with its IdentityFile, and runs a job there', async () => {
    const logins = sshd.logins();
    const e = executor('ssh://build-box', file(buildBox()));
    const h = harness({ docker: e.docker });
    try {
      expect(await e.ping()).toMatchObject({ ok: true });
      const { result, out } = await run(h, job([step('cat hello.txt; id -un')], { image: TEST_IMAGE }));
      expect(result.status, JSON.stringify(result)).toBe('passed');
      expect(out(0)).toContain('hello from the workspace');
    } finally {
      await h.cleanup();
      e.close();
    }
    expect(sshd.logins() - logins).toBe(1);
  });

  it('is not reachable as a plain host name without the config (the alias means nothing to DNS)', async () => {
    const r = await ping('ssh://build-box', file(''));
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/(ENOTFOUND|EAI_AGAIN) build-box/);
  });

  it('lets the address\'s user and port win over the config\'s', async () => {
    const config = file(`Host 127.0.0.1\n  User nobody\n  Port 1\n  IdentityFile ${key}\n  UserKnownHostsFile ${file(keyscan())}\n`);
    expect(await ping(`ssh://root@127.0.0.1:${sshd.port}`, config)).toMatchObject({ ok: true });
    // The same config without them: port 1, where nothing listens.
    expect(await ping('ssh://127.0.0.1', config)).toMatchObject({ ok: false, message: expect.stringContaining('ECONNREFUSED 127.0.0.1:1') });
  });

  it('uses the engine\'s ssh-key over the config\'s IdentityFile', async () => {
    const r = await ping('ssh://build-box', file(buildBox()), { sshKey: sshd.strangerKey });
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining('All configured authentication methods failed') });
  });
});

describe('HostKeyAlias and UserKnownHostsFile', () => {
  it('accepts the host by the key known_hosts holds under the alias', async () => {
    const known = file(`build-box-key ${sshd.hostPublicKey}\n`);
    expect(await ping('ssh://build-box', file(buildBox(['HostKeyAlias build-box-key'], known)))).toMatchObject({ ok: true });
  });

  it('refuses a wrong key under the alias as CHANGED, naming the file and line', async () => {
    const known = file(`# lab machines\nbuild-box-key ${otherHostKey}\n`);
    const r = await ping('ssh://build-box', file(buildBox(['HostKeyAlias build-box-key'], known)));
    expect(r.ok).toBe(false);
    expect(r.message).toContain(`WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED: the host key of 127.0.0.1:${sshd.port} (HostKeyAlias build-box-key) has CHANGED: the host offered ssh-ed25519 key ${sshd.hostFingerprint}, but ${known}:2 holds another ssh-ed25519 key`);
    expect(r.message).toContain(`ssh-keygen -R 'build-box-key' -f ${known}`);
  });

  it('looks the host up by the alias only: its [host]:port line does not vouch for it', async () => {
    const known = file(keyscan());
    const r = await ping('ssh://build-box', file(buildBox(['HostKeyAlias build-box-key'], known)));
    expect(r.ok).toBe(false);
    expect(r.message).toContain(`the SSH host key of 127.0.0.1:${sshd.port} (HostKeyAlias build-box-key) is not known`);
    expect(r.message).toContain(`known_hosts (${known}) has`);
    expect(r.message).toContain(`add the line \`build-box-key ${sshd.hostPublicKey.split(' ').slice(0, 2).join(' ')}\` to ${known}`);
  });

  it('reads the UserKnownHostsFile files instead of ~/.ssh/known_hosts, the second one too', async () => {
    const known = [file(`other.example.com ${otherHostKey}\n`), file(keyscan())];
    const config = file(buildBox([], `${known[0]} ${known[1]}`));
    expect(await ping('ssh://build-box', config)).toMatchObject({ ok: true });
  });
});

describe('what Kiln refuses in ~/.ssh/config', () => {
  it('refuses a ProxyJump for the host, naming the file, line and what to do, and never connects', async () => {
    const logins = sshd.logins();
    const config = file(`${buildBox()}  ProxyJump bastion.example.com\n`);
    const r = await ping('ssh://build-box', config);
    expect(r.ok).toBe(false);
    expect(r.message).toContain(`${config}:12: ProxyJump bastion.example.com applies to 'build-box', but Kiln does not support ProxyJump`);
    expect(r.message).toContain('ProxyJump none');
    expect(sshd.logins() - logins).toBe(0);
  });

  it('refuses a malformed line, naming the file and line', async () => {
    const config = file('Host build-box\n  HostName 127.0.0.1\n  Port twenty-two\n');
    const r = await ping('ssh://build-box', config);
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining(`${config}:3: Port 'twenty-two' is not a port number (1-65535)`) });
    const quote = file(`${buildBox()}  IdentityFile "~/.ssh/id\n`);
    expect(await ping('ssh://build-box', quote)).toMatchObject({ ok: false, message: expect.stringContaining(`${quote}:12: cannot be read: Unexpected line break`) });
  });
});

describe('kiln run --engine ssh://ALIAS', () => {
  it('reads $HOME/.ssh/config, with ~ in IdentityFile and UserKnownHostsFile', () => {
    ensureBuilt();
    const home = mkdtempSync(join(dir, 'cli-home-'));
    const work = mkdtempSync(join(dir, 'cli-work-'));
    mkdirSync(join(home, '.ssh'));
    writeFileSync(join(home, '.ssh', 'kiln_key'), sshd.privateKey, { mode: 0o600 });
    writeFileSync(join(home, '.ssh', 'lab_known_hosts'), `build-box ${sshd.hostPublicKey}\n`);
    writeFileSync(join(home, '.ssh', 'config'), `Host build-box\n  HostName 127.0.0.1\n  User root\n  Port ${sshd.port}\n  IdentityFile ~/.ssh/kiln_key\n  HostKeyAlias build-box\n  UserKnownHostsFile ~/.ssh/lab_known_hosts\n`);
    writeFileSync(join(work, '.kiln.yml'), `name: over-ssh\njobs:\n  info:\n    image: ${TEST_IMAGE}\n    steps: [{ name: Say, run: echo over ssh }]\n`);
    const kiln = () => spawnSync(process.execPath, [KILN, 'run', '--engine', 'ssh://build-box'], { cwd: work, encoding: 'utf8', timeout: 120_000, env: { ...process.env, HOME: home, SSH_AUTH_SOCK: '', DOCKER_HOST: '', DOCKER_CONTEXT: '', XDG_CACHE_HOME: join(dir, 'cache') } });
    const r = kiln();
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('[info › Say] over ssh\n');
    writeFileSync(join(home, '.ssh', 'config'), `Host build-box\n  HostName 127.0.0.1\n  ProxyCommand ssh -W %h:%p bastion\n`);
    const refused = kiln();
    expect(refused.status).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain(`${join(home, '.ssh', 'config')}:3: ProxyCommand ssh -W %h:%p bastion applies to 'build-box'`);
  });
});
