/**
 * Debian's openssh-server on loopback for the ssh:// engine tests: its own host key, config, pid
 * file and authorized key (made here with ssh-keygen), and `SetEnv DOCKER_HOST=…` so that the
 * `docker system dial-stdio` Kiln runs over it reaches the given dockerd socket. `close()` stops it
 * (by its pid) and removes its folder. Needs root and openssh-server (.ci/run installs it).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SshServer {
  port: number;
  /** The client's private key (OpenSSH format). */
  privateKey: string;
  /** A key sshd does not know. */
  strangerKey: string;
  /** sshd's host key: its public line (`ssh-ed25519 AAAA…`) and fingerprint as `ssh-keygen -lf` prints it. */
  hostPublicKey: string;
  hostFingerprint: string;
  /** How many logins sshd accepted so far. */
  logins(): number;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function startSshServer(dockerSocket: string): Promise<SshServer> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-sshd-'));
  const port = await freePort();
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'stranger')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id.pub')));
  mkdirSync('/run/sshd', { recursive: true });
  writeFileSync(join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes', 'PermitRootLogin prohibit-password', 'StrictModes no', 'UsePAM no',
    `SetEnv DOCKER_HOST=unix://${dockerSocket}`, 'LogLevel INFO', '',
  ].join('\n'));
  const log = join(dir, 'sshd.log');
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')] });
  const until = Date.now() + 10_000;
  while (!readFileSync(log, 'utf8').includes(`Server listening on 127.0.0.1 port ${port}`)) {
    if (child.exitCode !== null || Date.now() > until) throw new Error(`sshd did not start: ${readFileSync(log, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    privateKey: readFileSync(join(dir, 'id'), 'utf8'),
    strangerKey: readFileSync(join(dir, 'stranger'), 'utf8'),
    hostPublicKey: readFileSync(join(dir, 'host_key.pub'), 'utf8').trim(),
    hostFingerprint: execFileSync('ssh-keygen', ['-lf', join(dir, 'host_key.pub')], { encoding: 'utf8' }).split(' ')[1],
    logins: () => (readFileSync(log, 'utf8').match(/Accepted publickey/g) ?? []).length,
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
