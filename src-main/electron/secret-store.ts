/**
 * The desktop app's `setSecret` (DesktopApi) over the engine's SecretVault: the same encrypted
 * file the settings page writes, with Electron's safeStorage as the Encryptor (Keychain on macOS,
 * DPAPI on Windows, libsecret/kwallet on Linux). Values are write-only from the UI: nothing here
 * returns a value to the renderer. When the OS offers no encryption (e.g. Linux without a
 * keyring), it refuses to store rather than write cleartext.
 *
 * The vault itself lives in src-main/storage/secret-vault.ts so that `kiln serve` (no Electron)
 * uses the same code with a key file instead.
 */
import { ApiError } from '../../shared/api/engine-api.js';
import { SecretVault, VaultError } from '../storage/secret-vault.js';
import type { Encryptor } from '../storage/secret-vault.js';

export type { Encryptor } from '../storage/secret-vault.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class SecretStore {
  private readonly vault: SecretVault;

  constructor(file: string, crypto: Encryptor) {
    this.vault = new SecretVault(file, crypto);
  }

  /** Stores (or, with an empty value, deletes) one secret. */
  set(repo: string, name: string, value: string): void {
    if (!NAME.test(name)) throw new ApiError('BAD_REQUEST', `secret name '${name}' must be letters, digits and _ and not start with a digit`);
    try {
      this.vault.update(repo, { secrets: { [name]: value === '' ? null : value } });
    } catch (err) {
      if (err instanceof VaultError) throw new ApiError('UNAVAILABLE', err.message);
      throw err;
    }
  }

  /** Decrypts the job secrets for the engine (main process only). */
  load(): Record<string, Record<string, string>> {
    return Object.fromEntries(Object.entries(this.vault.load()).map(([repo, s]) => [repo, s.secrets]));
  }
}
