/**
 * Repository secrets of the desktop app, encrypted at rest with the OS keychain (Electron's
 * safeStorage: Keychain on macOS, DPAPI on Windows, libsecret/kwallet on Linux). The file holds
 * only ciphertext: { "<repo>": { "<NAME>": "<base64 ciphertext>" } }, mode 0600. Values are
 * write-only from the UI: nothing here returns a value to the renderer.
 *
 * Takes a safeStorage-like `Encryptor` so it runs (and is tested) without Electron. When the OS
 * offers no encryption (e.g. Linux without a keyring), it refuses to store rather than write
 * cleartext.
 */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ApiError } from '../../shared/api/engine-api.js';

export interface Encryptor {
  isEncryptionAvailable(): boolean;
  encryptString(plain: string): Buffer;
  decryptString(cipher: Buffer): string;
}

type SecretFile = Record<string, Record<string, string>>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class SecretStore {
  constructor(private readonly file: string, private readonly crypto: Encryptor) {}

  private read(): SecretFile {
    if (!existsSync(this.file)) return {};
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      return typeof parsed === 'object' && parsed !== null ? parsed as SecretFile : {};
    } catch {
      throw new ApiError('INTERNAL', `${this.file} is not valid JSON; move it aside to start with no stored secrets`);
    }
  }

  private write(data: SecretFile): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(data, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
    chmodSync(this.file, 0o600);
  }

  /** Stores (or, with an empty value, deletes) one secret. */
  set(repo: string, name: string, value: string): void {
    if (!NAME.test(name)) throw new ApiError('BAD_REQUEST', `secret name '${name}' must be letters, digits and _ and not start with a digit`);
    const data = this.read();
    const forRepo = { ...(data[repo] ?? {}) };
    if (value === '') {
      delete forRepo[name];
    } else {
      if (!this.crypto.isEncryptionAvailable()) {
        throw new ApiError('UNAVAILABLE', 'the operating system offers no encryption for secrets (no keyring?); put them in kiln.config.yml instead');
      }
      forRepo[name] = this.crypto.encryptString(value).toString('base64');
    }
    data[repo] = forRepo;
    this.write(data);
  }

  /** Decrypts everything for the engine (main process only). Undecryptable entries are skipped. */
  load(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    if (!this.crypto.isEncryptionAvailable()) return out;
    for (const [repo, secrets] of Object.entries(this.read())) {
      out[repo] = {};
      for (const [name, cipher] of Object.entries(secrets)) {
        try { out[repo][name] = this.crypto.decryptString(Buffer.from(cipher, 'base64')); } catch { /* keychain changed: skip */ }
      }
    }
    return out;
  }
}
