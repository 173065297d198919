/**
 * Checks an engine sent by the settings page (an HTTP body or IPC, so typed as unknown) before it is
 * written: every problem is an ApiError('BAD_REQUEST') naming the field as kiln.config.yml does,
 * `engines[1].address: …`, where 1 is the engine's place in the list (a new one goes last).
 *
 * PEM text is parsed, not pattern-matched: a CA or client certificate must load as an X.509
 * certificate and a key as a private key (node:crypto); an SSH key in OpenSSH's own format, which
 * node:crypto does not read, is parsed by ssh2 as the SSH connection will. The text itself never
 * appears in an error.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { ssh2 } from '../core/ssh2.js';
import { HOST_KEY_PIN_HELP, normalizeHostKeyPin } from '../../shared/model/host-key-pin.js';
import { ApiError } from '../../shared/api/engine-api.js';
import type { EngineMaterialPart } from '../core/engine-contract.js';

export const ENGINE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const LABEL = /^[A-Za-z0-9_.-]+(=[^\s,=]+)?$/;
const MAX_PEM_BYTES = 64 * 1024;
const ADDRESS_HELP = 'use unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host';

/** A checked engine change; omitted fields are unchanged, null removes. */
export interface EngineChange {
  name: string;
  create: boolean;
  /** The engine's new name (an update only). */
  rename?: string;
  address?: string;
  /** null: back to the default (2). */
  limit?: number | null;
  labels?: string[];
  hostKey?: string | null;
  material: Partial<Record<EngineMaterialPart, string | null>>;
}

function bad(field: string, message: string): ApiError {
  return new ApiError('BAD_REQUEST', `${field}: ${message}`);
}

/** A name another engine has: CONFLICT (409), naming the field. */
function clash(field: string, name: string): ApiError {
  return new ApiError('CONFLICT', `${field}: an engine named '${name}' is already configured; choose another name or edit that one`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function checkEngineName(name: unknown, field = 'engines[].name'): string {
  if (typeof name !== 'string' || !ENGINE_NAME.test(name)) {
    throw bad(field, `must start with a letter or digit and hold only letters, digits, '.', '_', '-' (got ${JSON.stringify(name) ?? 'nothing'})`);
  }
  return name;
}

/** unix:///path, tcp://host:port, ssh://[user@]host[:port], npipe:////./pipe/name. */
export function checkEngineAddress(address: unknown, field: string): string {
  if (typeof address !== 'string' || address.trim() === '') throw bad(field, `required (${ADDRESS_HELP})`);
  if (/\s/.test(address)) throw bad(field, `'${address}' contains spaces (${ADDRESS_HELP})`);
  const scheme = /^([a-z]+):\/\//.exec(address)?.[1];
  if (scheme === 'unix' || scheme === 'npipe') {
    if (!/^(unix|npipe):\/\/\/./.test(address)) throw bad(field, `'${address}' names no socket path (unix:///var/run/docker.sock)`);
    return address;
  }
  if (scheme !== 'tcp' && scheme !== 'ssh') throw bad(field, `'${address}' is not an engine address (${ADDRESS_HELP})`);
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw bad(field, `'${address}' is not a valid ${scheme}:// address (${ADDRESS_HELP})`);
  }
  if (!url.hostname) throw bad(field, `'${address}' names no host`);
  if (url.pathname !== '' && url.pathname !== '/') throw bad(field, `'${address}' has a path; an engine address is only ${scheme}://host:port`);
  if (scheme === 'tcp' && !url.port) throw bad(field, `'${address}' names no port (tcp://host:2376 with TLS, 2375 without)`);
  return address;
}

function checkCertificate(text: string, field: string): void {
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw bad(field, 'is not a PEM certificate (expected text starting with -----BEGIN CERTIFICATE-----)');
  try {
    new X509Certificate(text);
  } catch (err) {
    throw bad(field, `is not a valid PEM certificate (${(err as Error).message})`);
  }
}

function checkTlsKey(text: string, field: string): KeyObject {
  try {
    return createPrivateKey(text);
  } catch (err) {
    const why = /passphrase|encrypted/i.test((err as Error).message) || text.includes('ENCRYPTED') ? 'it is protected by a passphrase, which Kiln cannot supply; remove it with `openssl pkey -in key.pem -out key.pem`' : (err as Error).message;
    throw bad(field, `is not a PEM private key (${why})`);
  }
}

/** A key of another type than the certificate's makes OpenSSL throw rather than answer false. */
function keyMatches(cert: string, key: KeyObject): boolean {
  try {
    return new X509Certificate(cert).checkPrivateKey(key);
  } catch {
    return false;
  }
}

function checkSshKey(text: string, field: string): void {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw bad(field, 'is not a PEM private key (expected text starting with -----BEGIN OPENSSH PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)');
  const parsed = ssh2().utils.parseKey(text);
  if (parsed instanceof Error) {
    let why = parsed.message;
    if (/passphrase|encrypted/i.test(why)) why = 'it is protected by a passphrase, which Kiln cannot supply; remove it with `ssh-keygen -p -N "" -f KEYFILE`';
    else if (text.includes('-----BEGIN PRIVATE KEY-----')) {
      let pkcs8 = false;
      try { createPrivateKey(text); pkcs8 = true; } catch { /* not a key at all: ssh2's reason stands */ }
      if (pkcs8) why = 'a PKCS#8 key, which SSH does not read; rewrite it in OpenSSH format with `ssh-keygen -p -N "" -f KEYFILE`';
    }
    throw bad(field, `is not a usable SSH private key (${why})`);
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key?.isPrivateKey()) throw bad(field, 'is a public key; paste the private key');
}

function pem(value: unknown, field: string): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === '') return null;
  if (typeof value !== 'string') throw bad(field, 'must be PEM text (or null to remove it)');
  if (Buffer.byteLength(value) > MAX_PEM_BYTES) throw bad(field, `is larger than ${MAX_PEM_BYTES / 1024} KiB`);
  return value.trim() + '\n';
}

/**
 * Checks `input`; `indexOf(name)` is the engine's place in the list (or -1 when it is not there)
 * and `count` the list's length, for the field names; `address` is the engine's current address.
 */
export function checkEngineInput(input: unknown, at: { indexOf: (name: string) => number; count: number; addressOf: (name: string) => string | undefined }): EngineChange {
  if (!isObject(input)) throw new ApiError('BAD_REQUEST', 'saveEngine takes an object {name, create?, address?, limit?, labels?, hostKey?, tls?, sshKey?}');
  const known = ['name', 'create', 'rename', 'address', 'limit', 'labels', 'hostKey', 'tls', 'sshKey'];
  const name = checkEngineName(input.name);
  const index = at.indexOf(name);
  const create = input.create === true;
  const f = `engines[${index >= 0 ? index : at.count}]`;
  for (const key of Object.keys(input)) if (!known.includes(key)) throw bad(f, `unknown field '${key}' (known: ${known.join(', ')})`);
  if (create && index >= 0) throw clash(`${f}.name`, name);
  if (!create && index < 0) throw new ApiError('NOT_FOUND', `engine '${name}' is not configured (add it with POST /api/engines, or the Add engine form in Settings)`);
  const change: EngineChange = { name, create, material: {} };
  if (input.rename !== undefined && input.rename !== name) {
    if (create) throw bad(`${f}.name`, 'a new engine cannot be renamed; send the name it should have');
    change.rename = checkEngineName(input.rename, `${f}.name`);
    if (at.indexOf(change.rename) >= 0) throw clash(`${f}.name`, change.rename);
  }
  if (input.address !== undefined || create) change.address = checkEngineAddress(input.address, `${f}.address`);
  if (input.limit === null) change.limit = null;
  else if (input.limit !== undefined) {
    if (typeof input.limit !== 'number' || !Number.isInteger(input.limit) || input.limit < 1 || input.limit > 256) throw bad(`${f}.limit`, `must be a whole number from 1 to 256, or null for the default of 2 (got ${JSON.stringify(input.limit)})`);
    change.limit = input.limit;
  }
  if (input.labels === null) change.labels = [];
  else if (input.labels !== undefined) {
    if (!Array.isArray(input.labels)) throw bad(`${f}.labels`, 'must be a list of labels such as gpu or arch=arm64');
    change.labels = input.labels.map((l, i) => {
      if (typeof l !== 'string' || !LABEL.test(l.trim())) throw bad(`${f}.labels[${i}]`, `${JSON.stringify(l)} is not a label (a word such as gpu, or key=value such as arch=arm64)`);
      return l.trim();
    });
  }
  if (input.hostKey !== undefined) {
    if (input.hostKey === null || input.hostKey === '') change.hostKey = null;
    else {
      const pin = typeof input.hostKey === 'string' ? normalizeHostKeyPin(input.hostKey) : undefined;
      if (pin === undefined) throw bad(`${f}.host-key`, `is not an SSH host key fingerprint (${HOST_KEY_PIN_HELP})`);
      change.hostKey = pin;
    }
  }
  // What applies to the address's kind is checked before the text is parsed.
  const address = change.address ?? at.addressOf(name) ?? '';
  const given = (v: unknown): boolean => typeof v === 'string' && v !== '';
  if (isObject(input.tls) && Object.values(input.tls).some(given) && !address.startsWith('tcp://')) throw bad(`${f}.tls`, `TLS applies to tcp:// addresses only, and '${name}' is at ${address}`);
  if (given(input.sshKey) && !address.startsWith('ssh://')) throw bad(`${f}.ssh-key`, `an SSH key applies to ssh:// addresses only, and '${name}' is at ${address}`);
  if (change.hostKey && !address.startsWith('ssh://')) throw bad(`${f}.host-key`, `a host key applies to ssh:// addresses only, and '${name}' is at ${address}`);
  if (input.tls !== undefined && input.tls !== null) {
    if (!isObject(input.tls)) throw bad(`${f}.tls`, 'must be an object {ca?, cert?, key?} of PEM text');
    for (const key of Object.keys(input.tls)) if (!['ca', 'cert', 'key'].includes(key)) throw bad(`${f}.tls`, `unknown field '${key}' (known: ca, cert, key)`);
    for (const part of ['ca', 'cert', 'key'] as const) {
      const value = pem(input.tls[part], `${f}.tls.${part}`);
      if (value === undefined) continue;
      if (value !== null) {
        if (part === 'key') checkTlsKey(value, `${f}.tls.key`);
        else checkCertificate(value, `${f}.tls.${part}`);
      }
      change.material[part] = value;
    }
    const { cert, key } = change.material;
    if (cert && key && !keyMatches(cert, checkTlsKey(key, `${f}.tls.key`))) throw bad(`${f}.tls.key`, 'does not belong to the client certificate given in tls.cert');
  }
  const sshKey = pem(input.sshKey, `${f}.ssh-key`);
  if (sshKey) checkSshKey(sshKey, `${f}.ssh-key`);
  if (sshKey !== undefined) change.material.sshKey = sshKey;

  return change;
}
