import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyFileEncryptor, SecretVault } from './secret-vault.js';

describe('the secret vault with a key file', () => {
  let dir: string;
  let file: string;
  let keyFile: string;
  const vault = (key = keyFile): SecretVault => new SecretVault(file, keyFileEncryptor(key));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-vault-'));
    file = join(dir, 'secrets.json');
    keyFile = join(dir, 'secret.key');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the key file with mode 0600 on the first secret, and the vault file 0600 too', () => {
    vault().update('acme/web', { secrets: { NPM_TOKEN: 'npm_abcdef123456' } });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps only ciphertext on disk: the plain values appear nowhere in the file', () => {
    vault().update('acme/web', { secrets: { NPM_TOKEN: 'npm_abcdef123456' }, addWebhookSecrets: ['hook-shared-secret'] });
    const onDisk = readFileSync(file, 'utf8');
    expect(onDisk).not.toContain('npm_abcdef123456');
    expect(onDisk).not.toContain('hook-shared-secret');
    expect(onDisk).not.toContain(Buffer.from('npm_abcdef123456').toString('base64'));
    expect(onDisk).toContain('NPM_TOKEN');
  });

  it('decrypts what it stored, in a new instance reading the same files', () => {
    const [id] = vault().update('acme/web', { secrets: { A: '1', B: '2' }, addWebhookSecrets: ['w1'] }, 1000);
    expect(vault().load()).toEqual({ 'acme/web': { secrets: { A: '1', B: '2' }, webhookSecrets: [{ id, addedAt: 1000, value: 'w1' }] } });
  });

  it('removes secrets by name and webhook secrets by id, keeping the others', () => {
    const v = vault();
    const [first, second] = v.update('acme/web', { secrets: { A: '1', B: '2' }, addWebhookSecrets: ['old', 'new'] });
    v.update('acme/web', { secrets: { A: null }, removeWebhookSecrets: [first] });
    expect(v.load()['acme/web']).toMatchObject({ secrets: { B: '2' }, webhookSecrets: [{ id: second, value: 'new' }] });
    expect(v.index()['acme/web']).toEqual({ secretNames: ['B'], webhookSecrets: [{ id: second, addedAt: expect.any(Number) }] });
    v.removeRepository('acme/web');
    expect(v.load()).toEqual({});
  });

  it('fails with a clear error when the key is not the one the secrets were written with', () => {
    vault().update('acme/web', { secrets: { NPM_TOKEN: 'npm_abcdef123456' } });
    const otherKey = join(dir, 'other.key');
    writeFileSync(otherKey, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
    expect(() => vault(otherKey).load()).toThrow(/cannot decrypt secret NPM_TOKEN of acme\/web in .*secrets\.json: it was encrypted with a different key/);
  });

  it('fails with a clear error when the key file is gone but secrets are stored', () => {
    vault().update('acme/web', { secrets: { NPM_TOKEN: 'x' } });
    rmSync(keyFile);
    expect(() => vault().load()).toThrow(/secret key .*secret\.key is missing/);
  });

  it('refuses a key file that other users can read', () => {
    vault().update('acme/web', { secrets: { NPM_TOKEN: 'x' } });
    chmodSync(keyFile, 0o644);
    expect(() => vault().load()).toThrow(/readable by other users .*chmod 600/);
  });

  it("reads the desktop app's first format as job secrets", () => {
    const crypto = keyFileEncryptor(keyFile);
    writeFileSync(file, JSON.stringify({ 'acme/web': { NPM_TOKEN: crypto.encryptString('legacy').toString('base64') } }));
    expect(new SecretVault(file, crypto).load()).toEqual({ 'acme/web': { secrets: { NPM_TOKEN: 'legacy' }, webhookSecrets: [] } });
  });

  it('loads nothing and creates no key when nothing was ever stored', () => {
    expect(vault().load()).toEqual({});
    expect(() => statSync(keyFile)).toThrow();
  });
});
