import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { blobKeyType, defaultKnownHostsFiles, entriesFor, hostsFieldMatches, knownHostsName, parseKnownHosts, readKnownHostsFiles } from './known-hosts.js';

// Real keys and hashed names, made with ssh-keygen (-t ed25519 / -t ecdsa, and -H for the hashes).
const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEE/ixZFVNCsVSR7NNCvggcZoA9H4UqMs8e5GM4Fr4AG';
const KEY_C = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBG2nxElEwXPeqiAOvT317vEVg0ob7Q6rZZnJ/MrSTlx63sPk+xVyWfY9vhDozEbIfA82wNBBY7FeXVpjW6pgEAQ=';
/** `build.example.com` and `[127.0.0.1]:2222`, hashed by `ssh-keygen -H`. */
const HASHED_BUILD = '|1|vVApUcCuYBmkPsLnJvYOM78jX0E=|Fpe40gA1wccMezrLOizPxJqJsbQ=';
const HASHED_LOOPBACK_2222 = '|1|zt58QF2DGWNKweso4cobIZITIs0=|mn0/TZ2nfxdKslK9qfBrochJbXs=';

describe('the name a host is looked up by', () => {
  it.each([
    ['build.example.com', 22, 'build.example.com'],
    ['Build.Example.COM', 22, 'build.example.com'],
    ['127.0.0.1', 2222, '[127.0.0.1]:2222'],
    ['[::1]', 22, '::1'],
    ['[::1]', 2222, '[::1]:2222'],
  ])('is %s port %i → %s', (host, port, name) => {
    expect(knownHostsName(host, port)).toBe(name);
  });
});

describe('a known_hosts line covers a host', () => {
  // The expected answers are those of `ssh-keygen -F NAME` on the same line (checked again against
  // ssh-keygen itself in test/engines/ssh-host-key.test.ts).
  it.each([
    ['build.example.com', 'build.example.com', true],
    ['build.example.com', 'other.example.com', false],
    ['*.example.com', 'build.example.com', true],
    ['*.example.com', 'example.com', false],
    ['build?.example.com', 'build1.example.com', true],
    ['build?.example.com', 'build12.example.com', false],
    ['BUILD.example.com', 'build.example.com', true],
    ['*.example.com,!secret.example.com', 'secret.example.com', false],
    ['!secret.example.com,*.example.com', 'secret.example.com', false],
    ['!secret.example.com,*.example.com', 'build.example.com', true],
    ['!secret.example.com', 'other.example.com', false],
    ['build.example.com', '[build.example.com]:2222', false],
    ['[build.example.com]:2222', '[build.example.com]:2222', true],
    ['[build.example.com]:2222', 'build.example.com', false],
    ['[*.example.com]:2222', '[build.example.com]:2222', true],
    ['*', '[build.example.com]:2222', true],
    ['10.0.0.*', '10.0.0.5', true],
    ['a.example.com,b.example.com', 'b.example.com', true],
    ['b.example.com.evil', 'b.example.com', false],
    ['b.example+com', 'b.example+com', true],
    [HASHED_BUILD, 'build.example.com', true],
    [HASHED_BUILD, 'other.example.com', false],
    [HASHED_LOOPBACK_2222, '[127.0.0.1]:2222', true],
    [HASHED_LOOPBACK_2222, '127.0.0.1', false],
    ['|2|vVApUcCuYBmkPsLnJvYOM78jX0E=|Fpe40gA1wccMezrLOizPxJqJsbQ=', 'build.example.com', false],
  ])('%s covers %s: %s', (field, name, covers) => {
    expect(hostsFieldMatches(field, name)).toBe(covers);
  });
});

describe('reading a known_hosts file', () => {
  it('reads plain, hashed, @revoked and @cert-authority lines with their positions, skipping comments', () => {
    const text = `# a comment\n\nbuild.example.com ${KEY_A} ada@desk\n${HASHED_BUILD} ${KEY_C}\n@revoked * ${KEY_A}\n@cert-authority *.example.com ${KEY_C}\n`;
    const { entries, problems } = parseKnownHosts(text, 'kh');
    expect(problems).toEqual([]);
    expect(entries.map((e) => [e.line, e.marker ?? '', e.hosts, e.keyType])).toEqual([
      [3, '', 'build.example.com', 'ssh-ed25519'],
      [4, '', HASHED_BUILD, 'ecdsa-sha2-nistp256'],
      [5, 'revoked', '*', 'ssh-ed25519'],
      [6, 'cert-authority', '*.example.com', 'ecdsa-sha2-nistp256'],
    ]);
    expect(blobKeyType(entries[0].key)).toBe('ssh-ed25519');
  });

  it.each([
    [`@trusted host ${KEY_A}`, "kh:1: unknown marker '@trusted' (OpenSSH knows @revoked and @cert-authority)"],
    ['host ssh-ed25519', 'kh:1: expected host patterns, a key type and a base64 key'],
    ['host ssh-ed25519 not*base64', 'kh:1: the key is not a valid ssh-ed25519 key'],
    [`host ssh-rsa ${KEY_A.split(' ')[1]}`, 'kh:1: the key is not a valid ssh-rsa key'],
  ])('skips and reports %s', (line, problem) => {
    expect(parseKnownHosts(`${line}\n`, 'kh')).toEqual({ entries: [], problems: [problem] });
  });

  const dir = mkdtempSync(join(tmpdir(), 'kiln-known-hosts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the files in order, passing over missing ones, and finds the entries for a host', () => {
    writeFileSync(join(dir, 'user'), `[127.0.0.1]:2222 ${KEY_A}\nbuild.example.com ${KEY_C}\n`);
    writeFileSync(join(dir, 'global'), `${HASHED_BUILD} ${KEY_A}\n`);
    const known = readKnownHostsFiles([join(dir, 'user'), join(dir, 'missing'), join(dir, 'global')]);
    expect(known.files).toEqual([join(dir, 'user'), join(dir, 'global')]);
    expect(known.problems).toEqual([]);
    expect(entriesFor(known, 'build.example.com', 22).map((e) => `${e.file}:${e.line}`)).toEqual([`${join(dir, 'user')}:2`, `${join(dir, 'global')}:1`]);
    expect(entriesFor(known, '127.0.0.1', 2222).map((e) => e.keyType)).toEqual(['ssh-ed25519']);
    expect(entriesFor(known, '127.0.0.1', 22)).toEqual([]);
  });

  it('looks where ssh looks by default', () => {
    expect(defaultKnownHostsFiles('/home/ada', 'linux')).toEqual([
      '/home/ada/.ssh/known_hosts', '/home/ada/.ssh/known_hosts2', '/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2',
    ]);
  });
});
