/**
 * Secret values written through the engine API (job secrets, webhook secrets, Docker engines' TLS
 * material and SSH keys), encrypted at rest. The file (<dataDir>/secrets.json, mode 0600) holds
 * only ciphertext:
 *
 *   { "version": 2, "repositories": { "acme/web": {
 *       "secrets": { "NPM_TOKEN": "<base64>" },
 *       "webhookSecrets": [ { "id": "wh-…", "addedAt": 1700000000000, "value": "<base64>" } ],
 *       "forgeToken": "<base64>" } },
 *     "engines": { "build-server": { "ca": "<base64>", "cert": "<base64>", "key": "<base64>" } } }
 *
 * The forge token (commit statuses) is kept apart from job secrets: job secrets become environment
 * variables of jobs, and the token must never reach a job.
 *
 * The desktop app's first format ({ "<repo>": { "<NAME>": "<base64>" } }) is read as job secrets and
 * rewritten in this one on the next change.
 *
 * Encryption is an `Encryptor` with Electron safeStorage's shape: safeStorage itself on the desktop
 * (src-main/electron), `keyFileEncryptor` headless (AES-256-GCM, a random key in a mode-0600 file).
 * A value that does not decrypt is an error naming the repository, the secret and the key — a job
 * silently started without its secret would be worse than an engine that refuses to start.
 *
 * Writes are atomic (temp file + rename) and synchronous: callers serialise nothing.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import type { EngineMaterialPart } from '../core/engine-contract.js';

export interface Encryptor {
  isEncryptionAvailable(): boolean;
  encryptString(plain: string): Buffer;
  decryptString(cipher: Buffer): string;
}

export class VaultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VaultError';
  }
}

export interface StoredWebhookSecret {
  id: string;
  addedAt: number;
  value: string;
}

/** What the vault holds for one repository, decrypted. */
export interface RepositorySecrets {
  secrets: Record<string, string>;
  webhookSecrets: StoredWebhookSecret[];
  forgeToken?: string;
}

interface RepoEntry {
  secrets: Record<string, string>;
  webhookSecrets: Array<{ id: string; addedAt: number; value: string }>;
  forgeToken?: string;
}

/** An engine's PEM material by part (ca, cert, key, sshKey). */
export type EngineMaterial = Partial<Record<EngineMaterialPart, string>>;

interface VaultFile {
  version: 2;
  repositories: Record<string, RepoEntry>;
  /** Absent in files written before engines could be set in Settings. */
  engines?: Record<string, EngineMaterial>;
}

const ENGINE_PARTS: readonly EngineMaterialPart[] = ['ca', 'cert', 'key', 'sshKey'];

const GCM_IV = 12;
const GCM_TAG = 16;

/**
 * AES-256-GCM with a 32-byte random key kept in `keyFile` (created on first use, mode 0600, never
 * overwritten). Ciphertext layout: iv (12) | tag (16) | data.
 */
export function keyFileEncryptor(keyFile: string): Encryptor {
  let key: Buffer | undefined;
  const load = (create: boolean): Buffer => {
    if (key) return key;
    if (!existsSync(keyFile)) {
      if (!create) throw new VaultError(`the secret key ${keyFile} is missing, so the stored secrets cannot be decrypted: restore it, or move secrets.json aside and set the secrets again`);
      const fresh = randomBytes(32);
      try {
        // 'wx': another process creating it at the same moment wins, and we read its key below.
        const fd = openSync(keyFile, 'wx', 0o600);
        try { writeSync(fd, `${fresh.toString('hex')}\n`); fsyncSync(fd); } finally { closeSync(fd); }
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST') throw err;
      }
    }
    const mode = statSync(keyFile).mode & 0o777;
    if (mode & 0o077) throw new VaultError(`the secret key ${keyFile} is readable by other users (mode ${mode.toString(8)}): run chmod 600 ${keyFile}`);
    const hex = readFileSync(keyFile, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/i.test(hex)) throw new VaultError(`the secret key ${keyFile} is not 64 hexadecimal characters; it was not written by Kiln`);
    key = Buffer.from(hex, 'hex');
    return key;
  };
  return {
    isEncryptionAvailable: () => true,
    encryptString(plain) {
      const iv = randomBytes(GCM_IV);
      const c = createCipheriv('aes-256-gcm', load(true), iv);
      const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), body]);
    },
    decryptString(cipher) {
      if (cipher.length < GCM_IV + GCM_TAG) throw new VaultError('the ciphertext is truncated');
      const d = createDecipheriv('aes-256-gcm', load(false), cipher.subarray(0, GCM_IV));
      d.setAuthTag(cipher.subarray(GCM_IV, GCM_IV + GCM_TAG));
      return Buffer.concat([d.update(cipher.subarray(GCM_IV + GCM_TAG)), d.final()]).toString('utf8');
    },
  };
}

/**
 * Writes `text` to `file` atomically: a temp file beside it (same mode), fsync, rename. On a full
 * disk the write fails (a short write is completed or fails too), the temp file is removed, and
 * `file` keeps its old content: a settings save never leaves a truncated file behind.
 */
export function writeFileAtomic(file: string, text: string, mode: number): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      const bytes = Buffer.from(text);
      for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, mode); // the umask may have narrowed it; keep exactly what was asked
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export class SecretVault {
  constructor(readonly file: string, private readonly crypto: Encryptor) {}

  private read(): VaultFile {
    if (!existsSync(this.file)) return { version: 2, repositories: {} };
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch {
      throw new VaultError(`${this.file} is not valid JSON; move it aside to start with no stored secrets`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new VaultError(`${this.file} is not a Kiln secrets file`);
    const obj = parsed as Record<string, unknown>;
    if (obj.version === 2) {
      const repos = (obj.repositories ?? {}) as Record<string, Partial<RepoEntry>>;
      const out: VaultFile = { version: 2, repositories: {} };
      for (const [name, e] of Object.entries(repos)) {
        out.repositories[name] = { secrets: { ...(e.secrets ?? {}) }, webhookSecrets: [...(e.webhookSecrets ?? [])], ...(typeof e.forgeToken === 'string' ? { forgeToken: e.forgeToken } : {}) };
      }
      const engines = obj.engines;
      if (engines && typeof engines === 'object') {
        out.engines = {};
        for (const [name, m] of Object.entries(engines as Record<string, Record<string, unknown>>)) {
          out.engines[name] = Object.fromEntries(ENGINE_PARTS.filter((p) => typeof m?.[p] === 'string').map((p) => [p, m[p] as string]));
        }
      }
      return out;
    }
    // The desktop app's first format: repo → name → ciphertext.
    const out: VaultFile = { version: 2, repositories: {} };
    for (const [name, secrets] of Object.entries(obj)) {
      if (typeof secrets === 'object' && secrets !== null) out.repositories[name] = { secrets: { ...(secrets as Record<string, string>) }, webhookSecrets: [] };
    }
    return out;
  }

  private write(data: VaultFile): void {
    writeFileAtomic(this.file, `${JSON.stringify(data, null, 2)}\n`, 0o600);
  }

  private encrypt(plain: string): string {
    if (!this.crypto.isEncryptionAvailable()) {
      throw new VaultError('the operating system offers no encryption for secrets (no keyring?); put them in kiln.config.yml instead');
    }
    return this.crypto.encryptString(plain).toString('base64');
  }

  private decrypt(cipher: string, what: string): string {
    try {
      return this.crypto.decryptString(Buffer.from(cipher, 'base64'));
    } catch (err) {
      if (err instanceof VaultError) throw err;
      throw new VaultError(`cannot decrypt ${what} in ${this.file}: it was encrypted with a different key (was the key file or the OS keychain replaced?). Move ${this.file} aside and set the secrets again`);
    }
  }

  /**
   * Applies several changes to one repository in one write: `secrets` (value sets, null deletes),
   * webhook secrets to add (returns their new ids) and ids to remove, the forge token (null deletes).
   */
  update(repo: string, change: { secrets?: Record<string, string | null>; addWebhookSecrets?: string[]; removeWebhookSecrets?: string[]; forgeToken?: string | null }, now = Date.now()): string[] {
    const data = this.read();
    const entry = data.repositories[repo] ?? { secrets: {}, webhookSecrets: [] };
    for (const [name, value] of Object.entries(change.secrets ?? {})) {
      if (value === null) delete entry.secrets[name];
      else entry.secrets[name] = this.encrypt(value);
    }
    const remove = new Set(change.removeWebhookSecrets ?? []);
    entry.webhookSecrets = entry.webhookSecrets.filter((w) => !remove.has(w.id));
    const added: string[] = [];
    for (const value of change.addWebhookSecrets ?? []) {
      const id = `wh-${randomBytes(6).toString('hex')}`;
      entry.webhookSecrets.push({ id, addedAt: now, value: this.encrypt(value) });
      added.push(id);
    }
    if (change.forgeToken === null) delete entry.forgeToken;
    else if (change.forgeToken !== undefined) entry.forgeToken = this.encrypt(change.forgeToken);
    data.repositories[repo] = entry;
    this.write(data);
    return added;
  }

  /** Forgets everything stored for a repository. */
  removeRepository(repo: string): void {
    const data = this.read();
    if (!(repo in data.repositories)) return;
    delete data.repositories[repo];
    this.write(data);
  }

  /** Sets (a value) or removes (null) parts of an engine's material, in one write. */
  updateEngine(engine: string, change: Partial<Record<EngineMaterialPart, string | null>>): void {
    const data = this.read();
    const entry: EngineMaterial = { ...data.engines?.[engine] };
    for (const part of ENGINE_PARTS) {
      const value = change[part];
      if (value === null) delete entry[part];
      else if (value !== undefined) entry[part] = this.encrypt(value);
    }
    data.engines = { ...data.engines, [engine]: entry };
    if (Object.keys(entry).length === 0) delete data.engines[engine];
    this.write(data);
  }

  /** Moves an engine's material to its new name (a rename in Settings). */
  renameEngine(from: string, to: string): void {
    const data = this.read();
    const entry = data.engines?.[from];
    if (!data.engines || !entry) return;
    delete data.engines[from];
    data.engines[to] = entry;
    this.write(data);
  }

  /** Forgets an engine's material. */
  removeEngine(engine: string): void {
    const data = this.read();
    if (!data.engines || !(engine in data.engines)) return;
    delete data.engines[engine];
    this.write(data);
  }

  /** Which parts of each engine's material are stored, without decrypting anything. */
  engineIndex(): Record<string, EngineMaterialPart[]> {
    return Object.fromEntries(Object.entries(this.read().engines ?? {}).map(([name, m]) => [name, ENGINE_PARTS.filter((p) => m[p] !== undefined)]));
  }

  /** Decrypts every engine's material, for the engine pool (main process only). */
  loadEngines(): Record<string, EngineMaterial> {
    const engines = this.read().engines ?? {};
    const out: Record<string, EngineMaterial> = {};
    for (const [name, m] of Object.entries(engines)) {
      out[name] = Object.fromEntries(ENGINE_PARTS.filter((p) => m[p] !== undefined).map((p) => [p, this.decrypt(m[p] as string, `the ${p} of engine ${name}`)]));
    }
    return out;
  }

  /** What is stored, without decrypting anything: secret names and webhook secret ids per repository. */
  index(): Record<string, { secretNames: string[]; webhookSecrets: Array<{ id: string; addedAt: number }>; forgeToken?: boolean }> {
    const out: ReturnType<SecretVault['index']> = {};
    for (const [repo, e] of Object.entries(this.read().repositories)) {
      out[repo] = { secretNames: Object.keys(e.secrets), webhookSecrets: e.webhookSecrets.map((w) => ({ id: w.id, addedAt: w.addedAt })), ...(e.forgeToken !== undefined ? { forgeToken: true } : {}) };
    }
    return out;
  }

  /** Decrypts everything, for the engine (main process only). Throws VaultError when a value does not decrypt. */
  load(): Record<string, RepositorySecrets> {
    const out: Record<string, RepositorySecrets> = {};
    const data = this.read();
    if (Object.keys(data.repositories).length === 0) return out;
    if (!this.crypto.isEncryptionAvailable()) throw new VaultError(`${this.file} holds secrets but the operating system offers no decryption now (no keyring?)`);
    for (const [repo, e] of Object.entries(data.repositories)) {
      out[repo] = {
        secrets: Object.fromEntries(Object.entries(e.secrets).map(([name, c]) => [name, this.decrypt(c, `secret ${name} of ${repo}`)])),
        webhookSecrets: e.webhookSecrets.map((w, i) => ({ id: w.id, addedAt: w.addedAt, value: this.decrypt(w.value, `webhook secret #${i + 1} of ${repo}`) })),
        ...(e.forgeToken !== undefined ? { forgeToken: this.decrypt(e.forgeToken, `the forge token of ${repo}`) } : {}),
      };
    }
    return out;
  }
}
