import { describe, expect, it } from 'vitest';
import { normalizeHostKeyPin } from '../../../shared/model/host-key-pin.js';
import { checkHostKey, fingerprint, preferredHostKeyAlgorithms, type HostKeyQuestion } from './host-key-check.js';
import { parseKnownHosts, type KnownHosts } from './known-hosts.js';

// Real keys made with ssh-keygen; the fingerprints are what `ssh-keygen -lf` printed for them.
const KEY_A = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEE/ixZFVNCsVSR7NNCvggcZoA9H4UqMs8e5GM4Fr4AG';
const FP_A = 'SHA256:IQwGuJzpSQu/JyYP4oGmYXx0GCoTVJThyjzi9MYkHfs';
const KEY_B = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAy6CyEFYYGzHtspzAdsQaQNKuvV25BRaMMB8OGxBbtE';
const FP_B = 'SHA256:LsOgYRIGjp+YoMhghFo50jWMWcP+T9W8j3u5TNa4Zzw';
const KEY_C = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBG2nxElEwXPeqiAOvT317vEVg0ob7Q6rZZnJ/MrSTlx63sPk+xVyWfY9vhDozEbIfA82wNBBY7FeXVpjW6pgEAQ=';
const FP_C = 'SHA256:iCHjIcTLP6cUWQmVJMvd7HR/07HjfrhPRtWGEn4uAik';

const blob = (line: string): Buffer => Buffer.from(line.split(' ')[1], 'base64');

function known(text: string): KnownHosts {
  const file = '/home/ada/.ssh/known_hosts';
  return { ...parseKnownHosts(text, file), files: text ? [file] : [], searched: [file, '/etc/ssh/ssh_known_hosts'] };
}

function ask(key: string, text: string, extra: Partial<HostKeyQuestion> = {}) {
  return checkHostKey({ engine: 'laptop', host: 'laptop.local', port: 22, key: blob(key), known: known(text), ...extra });
}

describe('the fingerprint of a host key', () => {
  it.each([[KEY_A, FP_A], [KEY_B, FP_B], [KEY_C, FP_C]])('of %s is what ssh-keygen -lf prints', (key, fp) => {
    expect(fingerprint(blob(key))).toBe(fp);
  });
});

describe('a host-key: value', () => {
  it.each([
    [FP_A, FP_A],
    [`  ${FP_A}=`, FP_A],
    ['SHA256:short', undefined],
    ['MD5:8b:3c:…', undefined],
    [FP_A.replace('SHA256:', ''), undefined],
    [`256 ${FP_A} root@host (ED25519)`, undefined],
  ])('%j reads as %j', (text, pin) => {
    expect(normalizeHostKeyPin(text)).toBe(pin);
  });
});

describe('checking the key a host offers', () => {
  describe('against known_hosts', () => {
    it('accepts the key known_hosts holds for the host, naming the line', () => {
      expect(ask(KEY_A, `other.local ${KEY_B}\nlaptop.local ${KEY_A}\n`)).toEqual({ ok: true, via: '/home/ada/.ssh/known_hosts:2' });
    });

    it('accepts a key known under a [host]:port name off port 22 only', () => {
      const text = `[laptop.local]:2222 ${KEY_A}\n`;
      expect(ask(KEY_A, text, { port: 2222 }).ok).toBe(true);
      expect(ask(KEY_A, text).ok).toBe(false);
    });

    it('refuses an unknown host with its key type, fingerprint and the two ways to trust it', () => {
      const v = ask(KEY_A, `other.local ${KEY_A}\n`, { port: 2222 });
      expect(v).toEqual({
        ok: false, kind: 'unknown',
        message: `the SSH host key of laptop.local:2222 is not known: the host offered ssh-ed25519 key ${FP_A}, which neither host-key: on engine 'laptop' nor known_hosts (/home/ada/.ssh/known_hosts) has. Kiln never trusts a host key on first use. Check the fingerprint with the machine's owner (on it: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then either run \`ssh-keyscan -p 2222 laptop.local >> ~/.ssh/known_hosts\` or set \`host-key: ${FP_A}\` on the engine in kiln.config.yml.`,
      });
    });

    it('leaves -p out of the ssh-keyscan command on port 22', () => {
      const v = ask(KEY_A, '');
      expect(v.ok || v.message).toContain('`ssh-keyscan laptop.local >> ~/.ssh/known_hosts`');
      expect(v.ok || v.message).toContain('known_hosts (none of /home/ada/.ssh/known_hosts, /etc/ssh/ssh_known_hosts exists)');
    });

    it('refuses a different key of the same type as CHANGED, naming the line holding the old one', () => {
      const v = ask(KEY_B, `laptop.local ${KEY_A}\n`);
      expect(v.ok).toBe(false);
      expect(v).toMatchObject({ kind: 'changed' });
      const message = v.ok ? '' : v.message;
      expect(message).toContain('the host key of laptop.local has CHANGED');
      expect(message).toContain(`the host offered ssh-ed25519 key ${FP_B}, but /home/ada/.ssh/known_hosts:1 holds another ssh-ed25519 key (${FP_A}) for it`);
      expect(message).toContain("ssh-keygen -R 'laptop.local' -f /home/ada/.ssh/known_hosts");
    });

    it('treats a key of a type known_hosts has no entry of as unknown, saying which types it has', () => {
      const v = ask(KEY_C, `laptop.local ${KEY_A}\n`);
      expect(v).toMatchObject({ ok: false, kind: 'unknown' });
      expect(v.ok || v.message).toContain('(known_hosts has its ssh-ed25519 key but no ecdsa-sha2-nistp256 key, and the host did not offer those)');
      expect(v.ok || v.message).toContain('ssh-keygen -lf /etc/ssh/ssh_host_ecdsa_key.pub');
    });

    it('names the known_hosts lines it could not read', () => {
      const v = ask(KEY_A, 'laptop.local ssh-ed25519 AAAA-broken\n');
      expect(v.ok || v.message).toContain('(lines skipped: /home/ada/.ssh/known_hosts:1: the key is not a valid ssh-ed25519 key)');
    });

    it('does not let a negated pattern vouch for the host', () => {
      expect(ask(KEY_A, `*.local,!laptop.local ${KEY_A}\n`)).toMatchObject({ ok: false, kind: 'unknown' });
      expect(ask(KEY_A, `*.local,!desk.local ${KEY_A}\n`)).toMatchObject({ ok: true });
    });

    it('refuses a @revoked key even where another line trusts it', () => {
      const v = ask(KEY_A, `laptop.local ${KEY_A}\n@revoked * ${KEY_A}\n`);
      expect(v).toMatchObject({ ok: false, kind: 'revoked' });
      expect(v.ok || v.message).toBe(`the host key of laptop.local (ssh-ed25519 key ${FP_A}) is REVOKED by @revoked at /home/ada/.ssh/known_hosts:2: Kiln refuses to connect to engine 'laptop'. The machine needs a new host key; trust it as a new one once its fingerprint is checked.`);
    });

    it('ignores a @revoked line for other hosts', () => {
      expect(ask(KEY_A, `laptop.local ${KEY_A}\n@revoked desk.local ${KEY_A}\n`)).toMatchObject({ ok: true });
    });

    it('says that @cert-authority is not supported when only a CA vouches for the host', () => {
      const v = ask(KEY_A, `@cert-authority *.local ${KEY_C}\n`);
      expect(v).toMatchObject({ ok: false, kind: 'unknown' });
      expect(v.ok || v.message).toContain('/home/ada/.ssh/known_hosts:1 trusts a @cert-authority for it, but Kiln does not support SSH host certificates: trust the host\'s own key instead');
    });
  });

  describe('under a HostKeyAlias from ~/.ssh/config', () => {
    it('accepts the key known under the alias, written without a port', () => {
      expect(ask(KEY_A, `build-box ${KEY_A}\n`, { port: 2222, alias: 'build-box' })).toEqual({ ok: true, via: '/home/ada/.ssh/known_hosts:1' });
    });

    it('does not take the host\'s own [host]:port line for it', () => {
      const v = ask(KEY_A, `[laptop.local]:2222 ${KEY_A}\n`, { port: 2222, alias: 'build-box', trustFile: '/home/ada/.ssh/lab_known_hosts' });
      expect(v).toMatchObject({ ok: false, kind: 'unknown' });
      expect(!v.ok && v.message).toContain('the SSH host key of laptop.local:2222 (HostKeyAlias build-box) is not known');
      expect(!v.ok && v.message).toContain(`either add the line \`build-box ${KEY_A}\` to /home/ada/.ssh/lab_known_hosts or set \`host-key: ${FP_A}\``);
    });

    it('refuses another key under the alias as CHANGED, with the ssh-keygen -R for the alias', () => {
      const v = ask(KEY_A, `build-box ${KEY_B}\n`, { port: 2222, alias: 'build-box' });
      expect(v).toMatchObject({ ok: false, kind: 'changed' });
      expect(!v.ok && v.message).toContain("the host key of laptop.local:2222 (HostKeyAlias build-box) has CHANGED");
      expect(!v.ok && v.message).toContain("`ssh-keygen -R 'build-box' -f /home/ada/.ssh/known_hosts`");
    });

    it('asks first for the key types known under the alias', () => {
      expect(preferredHostKeyAlgorithms(known(`build-box ${KEY_C}\n[laptop.local]:2222 ${KEY_A}\n`), 'laptop.local', 2222, 'build-box')).toEqual(['ecdsa-sha2-nistp256']);
    });
  });

  describe('against the engine\'s host-key:', () => {
    it('accepts the pinned key without any known_hosts entry', () => {
      expect(ask(KEY_A, '', { pin: FP_A })).toEqual({ ok: true, via: "host-key of engine 'laptop'" });
    });

    it('refuses another key as CHANGED even when known_hosts trusts it', () => {
      const v = ask(KEY_B, `laptop.local ${KEY_B}\n`, { pin: FP_A });
      expect(v).toMatchObject({ ok: false, kind: 'changed' });
      expect(v.ok || v.message).toContain(`WARNING: the host key of laptop.local has CHANGED: engine 'laptop' pins host-key: ${FP_A}, but the host offered ssh-ed25519 key ${FP_B}.`);
    });

    it('refuses the pinned key when it is @revoked', () => {
      expect(ask(KEY_A, `@revoked laptop.local ${KEY_A}\n`, { pin: FP_A })).toMatchObject({ ok: false, kind: 'revoked' });
    });

    it('refuses a pin that is not a fingerprint, saying so', () => {
      const v = ask(KEY_A, '', { pin: 'SHA256:nope' });
      expect(v.ok || v.message).toMatch(/^engine 'laptop': host-key 'SHA256:nope' is not an SSH host key fingerprint \(expected 'SHA256:' and 43 base64 characters/);
    });
  });
});

describe('the host key algorithms asked for first', () => {
  it('are those of the keys known for the host, as ssh orders them', () => {
    const k = known(`laptop.local ${KEY_C}\nlaptop.local ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ==\n*.local ${KEY_A}\n@revoked laptop.local ${KEY_B}\n`);
    expect(k.problems).toEqual([]);
    expect(preferredHostKeyAlgorithms(k, 'laptop.local', 22)).toEqual(['ecdsa-sha2-nistp256', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
    expect(preferredHostKeyAlgorithms(k, 'desk.example', 22)).toEqual([]);
  });
});
