/**
 * Which encryptor the desktop app's secret vault uses. The OS key store (Electron `safeStorage`)
 * when it really encrypts; otherwise the same AES-256-GCM key file `kiln serve` uses (mode 0600,
 * beside secrets.json), with a note the app shows the user — refusing to store secrets at all would
 * leave the Settings page unusable on a desktop without a keyring.
 *
 * On Linux, safeStorage may say it is available while its backend is `basic_text` (no keyring: a
 * hard-coded password). That protects nothing, so it counts as unavailable here. Call after the
 * app's `ready` (before it, safeStorage on Linux always says unavailable).
 */
import { keyFileEncryptor, type Encryptor } from '../storage/secret-vault.js';

export interface SafeStorageLike extends Encryptor {
  /** Linux only (Electron's safeStorage.getSelectedStorageBackend). */
  getSelectedStorageBackend?(): string;
}

export interface SecretStorageChoice {
  encryptor: Encryptor;
  /** Set when secrets fall back to the key file: what the app shows the user, and why. */
  note?: string;
}

export function chooseSecretStorage(safeStorage: SafeStorageLike, keyFile: string, platform: string = process.platform): SecretStorageChoice {
  const available = safeStorage.isEncryptionAvailable();
  const backend = platform === 'linux' ? safeStorage.getSelectedStorageBackend?.() : undefined;
  if (available && backend !== 'basic_text') return { encryptor: safeStorage };
  const why = available ? 'the system keyring is not reachable (Electron fell back to basic_text)' : 'the operating system offers no key store to Kiln';
  return {
    encryptor: keyFileEncryptor(keyFile),
    note: `Secrets are encrypted with the key file ${keyFile} (readable only by you) because ${why}.`,
  };
}
