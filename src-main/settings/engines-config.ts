/**
 * The `engines:` section of kiln.config.yml: the Docker engines of the worker pool.
 *
 *   engines:
 *     - name: build-server
 *       address: tcp://10.0.0.5:2376
 *       tls: { ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem }   # files, relative to the config file
 *       limit: 2
 *       labels: { arch: amd64, gpu: true }      # or a list: [gpu, big]
 *     - name: laptop
 *       address: ssh://builder@laptop.local
 *       ssh-key: ~/.ssh/id_ed25519
 *       host-key: SHA256:…                     # optional: else ~/.ssh/known_hosts vouches for the host
 *
 * Certificates and keys are read into memory when the file loads; their text is never written
 * back, logged or stored in the database. Problems are diagnostics naming the field.
 *
 * Material set in Settings lives in the encrypted secret vault instead: the file then says `vault`
 * where a path would be (`tls: { ca: vault, … }`, `ssh-key: vault`), and the parts so marked are
 * listed in `vaultParts` for the settings service to fill in from the vault.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { EngineConfig, EngineMaterialPart } from '../core/engine-contract.js';
import { HOST_KEY_PIN_HELP, normalizeHostKeyPin } from '../../shared/model/host-key-pin.js';
import type { Path } from '../pipeline/yaml-source.js';

const str = { type: 'string', minLength: 1 };

export const ENGINES_SCHEMA = {
  type: ['array', 'null'],
  items: {
    type: 'object', additionalProperties: false, required: ['name', 'address'],
    properties: {
      name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' },
      address: str,
      limit: { type: 'integer', minimum: 1, maximum: 256 },
      labels: { type: ['array', 'object', 'null'], items: { type: ['string', 'number'] }, additionalProperties: { type: ['string', 'number', 'boolean'] } },
      tls: { type: 'object', additionalProperties: false, properties: { ca: str, cert: str, key: str } },
      'ssh-key': str,
      'host-key': { type: 'string' },
    },
  },
};

/** Label text jobs can ask for: `gpu`, `arch=arm64`. */
export function engineLabels(raw: unknown): string[] {
  if (Array.isArray(raw)) return raw.map((v) => String(v));
  if (raw && typeof raw === 'object') {
    return Object.entries(raw as Record<string, unknown>).flatMap(([k, v]) => (v === true ? [k] : v === false ? [] : [`${k}=${String(v)}`]));
  }
  return [];
}

export const DEFAULT_ENGINE_LIMIT = 2;

/** The value that stands for "kept in the secret vault" where a file path would be. */
export const IN_VAULT = 'vault';

type Add = (path: Path, message: string) => void;

/** Reads `engines:` (already checked by ENGINES_SCHEMA); file problems and duplicates go to `add`. */
export function parseEngines(raw: unknown, configFile: string, add: Add): EngineConfig[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: EngineConfig[] = [];
  const names = new Set<string>();
  raw.forEach((item: unknown, i) => {
    if (!item || typeof item !== 'object') return;
    const e = item as Record<string, unknown>;
    const at = (...key: string[]): Path => ['engines', i, ...key];
    const name = typeof e.name === 'string' ? e.name : '';
    const address = typeof e.address === 'string' ? e.address : '';
    if (names.has(name)) add(at('name'), `engines[${i}].name: engine '${name}' is configured twice`);
    names.add(name);
    if (address && !/^(unix|tcp|ssh|npipe):\/\/./.test(address)) {
      add(at('address'), `engines[${i}].address: '${address}' is not an engine address (use unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host)`);
    }
    const vaultParts: EngineMaterialPart[] = [];
    const read = (path: Path, file: unknown, part: EngineMaterialPart): string | undefined => {
      if (typeof file !== 'string') return undefined;
      if (file === IN_VAULT) {
        vaultParts.push(part);
        return undefined;
      }
      const full = file.startsWith('~/') ? join(homedir(), file.slice(2)) : isAbsolute(file) ? file : join(dirname(configFile), file);
      try {
        return readFileSync(full, 'utf8');
      } catch (err) {
        const code = (err as { code?: string }).code;
        add(path, `engines[${i}].${path.slice(2).join('.')}: cannot read ${full} (${code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message})`);
        return undefined;
      }
    };
    const engine: EngineConfig = { name, address, limit: typeof e.limit === 'number' ? e.limit : DEFAULT_ENGINE_LIMIT, labels: engineLabels(e.labels) };
    const tls = e.tls && typeof e.tls === 'object' ? (e.tls as Record<string, unknown>) : undefined;
    if (tls) {
      engine.tls = { ca: read(at('tls', 'ca'), tls.ca, 'ca'), cert: read(at('tls', 'cert'), tls.cert, 'cert'), key: read(at('tls', 'key'), tls.key, 'key') };
      if (!address.startsWith('tcp://')) add(at('tls'), `engines[${i}].tls: TLS applies to tcp:// addresses only, and '${name}' is at ${address}`);
    }
    const sshKey = read(at('ssh-key'), e['ssh-key'], 'sshKey');
    if (sshKey !== undefined) engine.sshKey = sshKey;
    if (typeof e['host-key'] === 'string') {
      const pin = normalizeHostKeyPin(e['host-key']);
      if (pin === undefined) add(at('host-key'), `engines[${i}].host-key: '${e['host-key']}' is not an SSH host key fingerprint (${HOST_KEY_PIN_HELP})`);
      else if (!address.startsWith('ssh://')) add(at('host-key'), `engines[${i}].host-key: a host key applies to ssh:// addresses only, and '${name}' is at ${address}`);
      else engine.hostKey = pin;
    }
    if (vaultParts.length) engine.vaultParts = vaultParts;
    out.push(engine);
  });
  return out;
}
