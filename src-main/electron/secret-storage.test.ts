import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chooseSecretStorage, type SafeStorageLike } from './secret-storage.js';

const keychain = (available: boolean, backend?: string): SafeStorageLike => ({
  isEncryptionAvailable: () => available,
  encryptString: (s) => Buffer.from(`os:${s}`),
  decryptString: (b) => b.toString().slice(3),
  ...(backend ? { getSelectedStorageBackend: () => backend } : {}),
});

describe('choosing where the desktop app encrypts secrets', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'kiln-secret-storage-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['linux', 'gnome_libsecret'],
    ['darwin', undefined],
    ['win32', undefined],
  ])('uses the OS key store on %s when it encrypts, with no note', (platform, backend) => {
    const os = keychain(true, backend);
    const choice = chooseSecretStorage(os, join(dir, 'secret.key'), platform);
    expect(choice.encryptor).toBe(os);
    expect(choice.note).toBeUndefined();
  });

  it('falls back to a 0600 key file, with a note naming it, when the OS offers no key store', () => {
    const keyFile = join(dir, 'secret.key');
    const choice = chooseSecretStorage(keychain(false), keyFile, 'linux');
    expect(choice.note).toBe(`Secrets are encrypted with the key file ${keyFile} (readable only by you) because the operating system offers no key store to Kiln.`);
    const cipher = choice.encryptor.encryptString('hunter2');
    expect(cipher.toString('latin1')).not.toContain('hunter2');
    expect(choice.encryptor.decryptString(cipher)).toBe('hunter2');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  });

  it("treats Linux's basic_text backend (a hard-coded password) as no key store", () => {
    const choice = chooseSecretStorage(keychain(true, 'basic_text'), join(dir, 'secret.key'), 'linux');
    expect(choice.note).toContain('basic_text');
    expect(choice.encryptor.encryptString('x').toString()).not.toBe('os:x');
  });
});
