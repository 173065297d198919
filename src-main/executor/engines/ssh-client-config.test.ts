import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveSshTarget, type SshTarget, type SshTargetInput } from './ssh-client-config.js';

const home = mkdtempSync(join(tmpdir(), 'kiln-ssh-config-'));
const sshDir = join(home, '.ssh');
mkdirSync(join(sshDir, 'config.d'), { recursive: true });
afterAll(() => rmSync(home, { recursive: true, force: true }));

let files = 0;
/** A config file of the test's own; `extra` files are written next to it (for Include). */
function config(text: string, extra: Record<string, string> = {}): string {
  for (const [name, body] of Object.entries(extra)) writeFileSync(join(sshDir, name), body);
  const file = join(sshDir, `config_${++files}`);
  writeFileSync(file, text);
  return file;
}

function target(configFile: string, address: Partial<SshTargetInput> & { host: string }): SshTarget {
  return resolveSshTarget({ configFile, home, localUser: 'ada', env: { LAB: 'lab-keys' }, ...address });
}

const BUILD_BOX = `
Host build-box
  HostName 10.0.0.5
  User builder
  Port 2222
  IdentityFile ~/.ssh/kiln_ed25519
  IdentityFile "~/keys/second key"
  HostKeyAlias build-box-key
  UserKnownHostsFile ~/.ssh/kiln_known_hosts /etc/kiln/known_hosts
  IdentitiesOnly yes

Host *
  User everyone
  Port 2200
  IdentityFile ~/.ssh/id_default
`;

describe('an address naming a Host alias', () => {
  it('connects where the alias says: HostName, User, Port, every IdentityFile, HostKeyAlias, UserKnownHostsFile, IdentitiesOnly', () => {
    expect(target(config(BUILD_BOX), { host: 'build-box' })).toEqual({
      host: '10.0.0.5', port: 2222, user: 'builder',
      identityFiles: [join(sshDir, 'kiln_ed25519'), join(home, 'keys', 'second key'), join(sshDir, 'id_default')],
      identitiesOnly: true, hostKeyAlias: 'build-box-key',
      userKnownHostsFiles: [join(sshDir, 'kiln_known_hosts'), '/etc/kiln/known_hosts'],
    });
  });

  it('lets the address\'s user and port win over the file', () => {
    expect(target(config(BUILD_BOX), { host: 'build-box', user: 'root', port: 22 })).toMatchObject({ host: '10.0.0.5', user: 'root', port: 22 });
  });

  it('matches the alias whatever its case, as ssh lowercases the host', () => {
    expect(target(config(BUILD_BOX), { host: 'Build-Box' })).toMatchObject({ host: '10.0.0.5' });
  });

  it('takes the first value of each option: a later Host * fills only what is missing', () => {
    expect(target(config(BUILD_BOX), { host: 'other' })).toEqual({
      host: 'other', port: 2200, user: 'everyone', identityFiles: [join(sshDir, 'id_default')], identitiesOnly: false,
    });
  });

  it.each([
    ['*.lab', 'gpu.lab', true],
    ['*.lab', 'gpu.lab.example.com', false],
    ['*.lab !secret.lab', 'secret.lab', false],
    ['*.lab,other', 'other', true],
    ['10.0.0.*', '10.0.0.7', true],
  ])('Host %s applies to %s: %s', (patterns, host, applies) => {
    const t = target(config(`Host ${patterns}\n  User lab\n`), { host });
    expect(t.user).toBe(applies ? 'lab' : 'ada');
  });

  it('expands %h in HostName and %d, %u, %r, %h, %p, %n and ${VAR} in file names', () => {
    const t = target(config('Host *.lab\n  HostName %h.example.com\n  User robot\n  IdentityFile %d/.ssh/%u-%r-%h-%p-%n\n  IdentityFile ~/${LAB}/id\n'), { host: 'gpu.lab' });
    expect(t.host).toBe('gpu.lab.example.com');
    expect(t.identityFiles).toEqual([join(sshDir, 'ada-robot-gpu.lab.example.com-22-gpu.lab'), join(home, 'lab-keys', 'id')]);
  });

  it('reads UserKnownHostsFile none as no user known_hosts file', () => {
    expect(target(config('Host box\n  UserKnownHostsFile none\n  GlobalKnownHostsFile /etc/kiln/global\n'), { host: 'box' })).toMatchObject({ userKnownHostsFiles: [], globalKnownHostsFiles: ['/etc/kiln/global'] });
  });

  it('has only the address\'s values when the file does not exist', () => {
    expect(target(join(sshDir, 'missing'), { host: 'box', port: 2022 })).toEqual({ host: 'box', port: 2022, user: 'ada', identityFiles: [], identitiesOnly: false });
  });

  it('does not run Match exec commands: such a block never applies', () => {
    const marker = join(home, 'ran');
    const t = target(config(`Match exec "touch ${marker}"\n  User exec\nMatch host box\n  Port 2022\n`), { host: 'box' });
    expect(t).toMatchObject({ user: 'ada', port: 2022 });
    expect(() => writeFileSync(join(marker, 'x'), '')).toThrow();
  });
});

describe('Include', () => {
  it('reads names relative to ~/.ssh, with globs, in place', () => {
    const file = config('Include config.d/*.conf\nHost *\n  User late\n', {
      'config.d/10-box.conf': 'Host box\n  HostName 10.0.0.9\n  User early\n',
      'config.d/20-lab.conf': 'Host *.lab\n  Port 2022\n',
      'config.d/ignored.txt': 'Host box\n  Port 9\n',
    });
    expect(target(file, { host: 'box' })).toMatchObject({ host: '10.0.0.9', user: 'early', port: 22 });
    expect(target(file, { host: 'gpu.lab' })).toMatchObject({ host: 'gpu.lab', user: 'late', port: 2022 });
  });

  it('inside a Host block applies only to that block\'s hosts, and the block\'s later lines still apply', () => {
    const file = config('Host box\n  Include inner\n  IdentityFile ~/.ssh/after\n', { inner: 'Port 2022\nHost *\n  User inner\n' });
    expect(target(file, { host: 'box' })).toMatchObject({ port: 2022, user: 'inner', identityFiles: [join(sshDir, 'after')] });
    expect(target(file, { host: 'other' })).toMatchObject({ port: 22, user: 'ada', identityFiles: [] });
  });

  it('inside a Match block gives its options to the hosts the block matches; Host blocks in it are refused with the line', () => {
    const file = config('Match host box\n  Include match-inner\n', { 'match-inner': 'Port 2022\n' });
    expect(target(file, { host: 'box' })).toMatchObject({ port: 2022 });
    expect(target(file, { host: 'other' })).toMatchObject({ port: 22 });
    const blocks = config('# lab\nMatch host box\n  Include match-blocks\n', { 'match-blocks': 'Host *\n  Port 2022\n' });
    expect(() => target(blocks, { host: 'box' })).toThrow(`${blocks}:3: Kiln cannot read an Include of Host or Match blocks inside a Match block`);
  });

  it('stops an Include loop with the file named', () => {
    const file = config('Include loop\n', { loop: 'Include loop\n' });
    expect(() => target(file, { host: 'box' })).toThrow(`${join(sshDir, 'loop')}: Include nested more than 16 deep`);
  });
});

describe('what Kiln refuses, naming the file and line', () => {
  it('refuses ProxyJump that applies to the host, saying what to do instead', () => {
    const file = config('Host box\n  HostName 10.0.0.5\n\nHost *\n  ProxyJump bastion.example.com\n');
    expect(() => target(file, { host: 'box' })).toThrow(`${file}:5: ProxyJump bastion.example.com applies to 'box', but Kiln does not support ProxyJump`);
    expect(() => target(file, { host: 'box' })).toThrow(/a forwarded port .*ProxyJump none/);
  });

  it('names the included file and its line', () => {
    const file = config('Include jump.conf\n', { 'jump.conf': '# jump hosts\nHost *.lab\n  ProxyCommand ssh -W %h:%p "bastion"\n' });
    expect(() => target(file, { host: 'gpu.lab' })).toThrow(`${join(sshDir, 'jump.conf')}:3: ProxyCommand ssh -W %h:%p "bastion" applies to 'gpu.lab'`);
  });

  it('connects directly with ProxyJump none before it, and ignores a ProxyJump for other hosts', () => {
    const file = config('Host box\n  ProxyJump none\nHost *.lab\n  ProxyJump bastion\nHost *\n  ProxyJump bastion\n');
    expect(target(file, { host: 'box' })).toMatchObject({ host: 'box' });
  });

  it.each([
    ['Host box\n  IdentityFile "~/.ssh/id\n', 2, 'cannot be read: Unexpected line break'],
    ['# keys\n\n\nHost box\n  UserKnownHostsFile\n', 5, "'UserKnownHostsFile' has no value"],
    ['Host box\n  HostName\n  Port 2022\n', 2, "'HostName' has no value"],
    ['Host box\n  HostName 10.0.0.5\n\n  Port twenty-two\n', 4, "Port 'twenty-two' is not a port number"],
    ['Host box\r\n  Port 70000\r\n', 2, "Port '70000' is not a port number"],
    ['Host box\n  IdentitiesOnly maybe\n', 2, "IdentitiesOnly 'maybe' must be yes or no"],
    ['Host box\n  IdentityFile ~/.ssh/%C\n', 2, "'~/.ssh/%C' has the token %C, which Kiln does not expand"],
    ['Host box\n  IdentityFile ${NOT_SET_ANYWHERE}/id\n', 2, 'the environment variable NOT_SET_ANYWHERE, which is not set'],
  ])('refuses a malformed line: %j', (text, line, message) => {
    const file = config(text);
    expect(() => target(file, { host: 'box' })).toThrow(`${file}:${line}: `);
    expect(() => target(file, { host: 'box' })).toThrow(message);
  });
});
