import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RepositoryConfig } from '../../src-main/engine-contract.js';
import { applyStoredSecrets } from '../../src-main/electron/desktop-api.js';
import { SecretStore } from '../../src-main/electron/secret-store.js';
import { aesEncryptor } from './aes-encryptor.js';

describe('the desktop secret store', () => {
  let dir: string;
  let file: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'kiln-secrets-')); file = join(dir, 'secrets.json'); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps only ciphertext on disk, readable by its owner only', () => {
    const store = new SecretStore(file, aesEncryptor());
    store.set('acme/web', 'NPM_TOKEN', 'super-secret-value');
    expect(readFileSync(file, 'utf8')).not.toContain('super-secret-value');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('decrypts what it stored, for the engine', () => {
    const crypto = aesEncryptor();
    new SecretStore(file, crypto).set('acme/web', 'NPM_TOKEN', 'v1');
    expect(new SecretStore(file, crypto).load()).toEqual({ 'acme/web': { NPM_TOKEN: 'v1' } });
  });

  it('deletes a secret when given an empty value', () => {
    const store = new SecretStore(file, aesEncryptor());
    store.set('acme/web', 'A', '1');
    store.set('acme/web', 'A', '');
    expect(store.load()).toEqual({ 'acme/web': {} });
  });

  it('refuses to store when the OS offers no encryption, rather than write cleartext', () => {
    const store = new SecretStore(file, aesEncryptor(false));
    expect(() => store.set('acme/web', 'A', 'x')).toThrow(/no encryption/);
  });

  it('refuses a name that cannot be an environment variable', () => {
    expect(() => new SecretStore(file, aesEncryptor()).set('acme/web', '1BAD-NAME', 'x')).toThrow(/secret name/);
  });

  it('merges stored secrets into the repository configuration before the engine starts', () => {
    const repos: RepositoryConfig[] = [{ name: 'acme/web', url: 'x', defaultBranch: 'main', webhookSecrets: [], secrets: { FROM_FILE: 'a' }, priority: {} }];
    applyStoredSecrets(repos, { 'acme/web': { NPM_TOKEN: 'b' } });
    expect(repos[0].secrets).toEqual({ FROM_FILE: 'a', NPM_TOKEN: 'b' });
  });
});
