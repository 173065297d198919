/**
 * Docker engines on the settings page: what the page sees of each (never the material), how the
 * material kept in the secret vault joins the configuration, and what a save writes where.
 *
 * The material of an engine set in Settings is in the vault under the engine's name; its entry in
 * kiln.config.yml says `vault` where a file path would be (engines-config.ts). Joining the two is
 * done whenever the configuration is read: at start, before the engine pool is built, and after
 * every save.
 */
import type { EngineSettings, SecretSource } from '../../shared/api/settings-types.js';
import type { EngineConfig, EngineMaterialPart } from '../core/engine-contract.js';
import type { EngineMaterial } from '../storage/secret-vault.js';
import type { EngineChange } from './engine-input.js';
import { IN_VAULT } from './engines-config.js';

const TLS_PARTS = ['ca', 'cert', 'key'] as const;
const FIELD: Record<EngineMaterialPart, string> = { ca: 'tls.ca', cert: 'tls.cert', key: 'tls.key', sshKey: 'ssh-key' };

/**
 * Fills in the parts each engine keeps in the vault; returns a problem per part the file says is in
 * the vault but is not there (the engine then runs without it and its connection error says why).
 */
export function mergeEngineMaterial(engines: EngineConfig[] | undefined, stored: Record<string, EngineMaterial>): string[] {
  const problems: string[] = [];
  engines?.forEach((e, i) => {
    for (const part of e.vaultParts ?? []) {
      const value = stored[e.name]?.[part];
      if (value === undefined) {
        problems.push(`engines[${i}].${FIELD[part]}: kiln.config.yml says engine '${e.name}' keeps it in the secret vault, which holds none; set it again in Settings`);
        continue;
      }
      if (part === 'sshKey') e.sshKey = value;
      else e.tls = { ...e.tls, [part]: value };
    }
  });
  return problems;
}

/** The settings page's view of an engine: which parts are set and where, never their text. */
export function engineSettingsOf(e: EngineConfig): EngineSettings {
  const source = (part: EngineMaterialPart): SecretSource | undefined => {
    if (e.vaultParts?.includes(part)) return 'vault';
    const value = part === 'sshKey' ? e.sshKey : e.tls?.[part];
    return value !== undefined ? 'file' : undefined;
  };
  const tls: EngineSettings['tls'] = {};
  for (const part of TLS_PARTS) {
    const s = source(part);
    if (s) tls[part] = s;
  }
  const sshKey = source('sshKey');
  return {
    name: e.name, address: e.address, limit: e.limit, labels: [...e.labels], tls,
    ...(e.hostKey ? { hostKey: e.hostKey } : {}), ...(sshKey ? { sshKey } : {}),
  };
}

/**
 * What a checked change writes: the fields and `vault` markers for kiln.config.yml, and the text
 * for the vault. Moving an engine to another kind of address drops what only the old kind used
 * (TLS for tcp://, the key and host key for ssh://).
 */
export function engineWrites(change: EngineChange, previousAddress: string | undefined): {
  file: { address?: string; limit?: number | null; labels?: string[]; hostKey?: string | null; material: Partial<Record<EngineMaterialPart, typeof IN_VAULT | null>> };
  vault: Partial<Record<EngineMaterialPart, string | null>>;
} {
  const vault = { ...change.material };
  const address = change.address ?? previousAddress ?? '';
  let hostKey = change.hostKey;
  if (change.address !== undefined && previousAddress !== undefined && change.address !== previousAddress) {
    if (!address.startsWith('tcp://')) for (const p of TLS_PARTS) vault[p] ??= null;
    if (!address.startsWith('ssh://')) {
      vault.sshKey ??= null;
      hostKey ??= null;
    }
  }
  const material: Partial<Record<EngineMaterialPart, typeof IN_VAULT | null>> = {};
  for (const [part, value] of Object.entries(vault) as Array<[EngineMaterialPart, string | null]>) material[part] = value === null ? null : IN_VAULT;
  return { file: { address: change.address, limit: change.limit, labels: change.labels, hostKey, material }, vault };
}
