/**
 * An ssh:// engine: Debian's openssh-server on loopback whose sessions reach a dockerd of the
 * test's own. Kiln keeps one SSH connection per engine and opens a channel per HTTP connection.
 * sshd's host key is in a known_hosts file of the test's own (host key checks: ssh-host-key.test.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerExecutor } from '../../src-main/executor/docker-executor.js';
import { harness, job, run, step } from '../executor/executor-helpers.js';
import { startExtraEngine, type ExtraEngine } from '../helpers/second-engine.js';
import { startSshServer, type SshServer } from '../helpers/ssh-server.js';

let engine: ExtraEngine;
let sshd: SshServer;
let executor: DockerExecutor;
let knownHosts: string;

beforeAll(async () => {
  engine = await startExtraEngine('over-ssh');
  sshd = await startSshServer(engine.socket);
  knownHosts = join(engine.dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
}, 120_000);
afterAll(async () => {
  executor?.close();
  await sshd?.close();
  await engine?.close();
});

describe('an engine at ssh://user@host', () => {
  it('answers over SSH, reaching the engine the remote docker command uses', async () => {
    executor = new DockerExecutor({
      instanceId: 'ssh-test', mirrorsDir: join(engine.dir, 'mirrors'),
      endpoint: { name: 'remote', address: `ssh://root@127.0.0.1:${sshd.port}`, sshKey: sshd.privateKey, knownHostsFiles: [knownHosts], source: 'kiln.config.yml' },
    });
    expect(await executor.ping()).toMatchObject({ ok: true, engine: `remote (ssh://root@127.0.0.1:${sshd.port}, from kiln.config.yml)` });
    const info = await executor.docker.info() as { DockerRootDir: string };
    expect(info.DockerRootDir).toBe(join(engine.dir, 'data'));
  });

  it('keeps one SSH connection for many API calls and a whole job', async () => {
    const before = sshd.logins();
    for (let i = 0; i < 20; i++) await executor.docker.ping();
    const h = harness({ docker: executor.docker });
    try {
      const { result, out } = await run(h, job([step('cat hello.txt; echo "on $(hostname)"')]));
      expect(result.status).toBe('passed');
      expect(out(0)).toContain('hello from the workspace');
    } finally {
      await h.executor.reapOrphans(() => false);
    }
    expect(sshd.logins() - before).toBe(0);
    expect(sshd.logins()).toBe(1);
  });

  it('says clearly when the key is refused', async () => {
    const other = new DockerExecutor({
      instanceId: 'ssh-test', mirrorsDir: join(engine.dir, 'mirrors'),
      endpoint: { name: 'remote', address: `ssh://root@127.0.0.1:${sshd.port}`, sshKey: sshd.strangerKey, knownHostsFiles: [knownHosts], source: 'kiln.config.yml' },
    });
    try {
      const ping = await other.ping();
      expect(ping.ok).toBe(false);
      expect(ping.message).toMatch(/^Docker engine not reachable: All configured authentication methods failed/);
    } finally {
      other.close();
    }
  });
});
