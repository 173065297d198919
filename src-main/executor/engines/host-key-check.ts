/**
 * Whether Kiln may talk to the SSH server it reached: the check `ssh` does with
 * StrictHostKeyChecking=yes. An ssh:// engine gives whoever answers the Docker API, which is root on
 * that machine, so a key nobody vouched for is never accepted, not even the first time.
 *
 * In order:
 *  1. a key marked `@revoked` for the host in a known_hosts file is refused, whatever else says;
 *  2. the engine's `host-key:` (a SHA256 fingerprint) decides alone when it is set: the same key is
 *     accepted, any other refused as a changed key;
 *  3. else the known_hosts entries for the host: the same key is accepted; another key of the same
 *     type means the host key has CHANGED and is refused; no entry of that type is an unknown host,
 *     refused with the fingerprint and the two ways to trust it.
 * The host is looked up as `[host]:port` (or `host` on port 22), or by its HostKeyAlias from
 * ~/.ssh/config when it has one, as `ssh` looks it up.
 * `@cert-authority` lines are recognised but host certificates are not supported (ssh2 does not
 * negotiate them): a host covered only by one is reported as unknown, saying so.
 *
 * Pure: the caller reads the files (known-hosts.ts) and acts on the verdict (ssh-connection.ts).
 */
import { createHash } from 'node:crypto';
import { HOST_KEY_PIN_HELP, normalizeHostKeyPin } from '../../../shared/model/host-key-pin.js';
import { blobKeyType, entriesFor, type KnownHostEntry, type KnownHosts } from './known-hosts.js';

/** The fingerprint `ssh-keygen -lf` and `ssh` print for a public key blob. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export interface HostKeyQuestion {
  /** The engine's name, for the messages. */
  engine: string;
  host: string;
  port: number;
  /** The key blob the server sent. */
  key: Buffer;
  /** The engine's `host-key:` fingerprint. */
  pin?: string;
  known: KnownHosts;
  /** HostKeyAlias from ~/.ssh/config: the name known_hosts holds the key under, instead of the host's. */
  alias?: string;
  /** Where the advice adds a new key: the first UserKnownHostsFile (default ~/.ssh/known_hosts). */
  trustFile?: string;
}

export type HostKeyVerdict =
  | { ok: true; via: string }
  | { ok: false; kind: 'unknown' | 'changed' | 'revoked'; message: string };

const where = (e: KnownHostEntry): string => `${e.file}:${e.line}`;

/** The host as people type it: `laptop.local`, or `127.0.0.1:2222` off port 22. */
function shown(host: string, port: number): string {
  return port === 22 ? host : `${host}:${port}`;
}

/** The word in sshd's host key file names: ssh_host_ed25519_key, ssh_host_ecdsa_key, ssh_host_rsa_key. */
function hostKeyFileKind(type: string): string {
  return type.startsWith('ecdsa-') ? 'ecdsa' : type.replace(/^ssh-/, '');
}

export function checkHostKey(q: HostKeyQuestion): HostKeyVerdict {
  const type = blobKeyType(q.key) ?? 'unknown-type';
  const fp = fingerprint(q.key);
  const host = `${shown(q.host, q.port)}${q.alias !== undefined ? ` (HostKeyAlias ${q.alias})` : ''}`;
  const offered = `${type} key ${fp}`;
  const entries = entriesFor(q.known, q.host, q.port, q.alias);

  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(q.key));
  if (revoked) {
    return { ok: false, kind: 'revoked', message: `the host key of ${host} (${offered}) is REVOKED by @revoked at ${where(revoked)}: Kiln refuses to connect to engine '${q.engine}'. The machine needs a new host key; trust it as a new one once its fingerprint is checked.` };
  }

  if (q.pin !== undefined) {
    const pin = normalizeHostKeyPin(q.pin);
    if (pin === undefined) return { ok: false, kind: 'unknown', message: `engine '${q.engine}': host-key '${q.pin}' is not an SSH host key fingerprint (${HOST_KEY_PIN_HELP}); the host ${host} offered ${offered}` };
    if (pin === fp) return { ok: true, via: `host-key of engine '${q.engine}'` };
    return { ok: false, kind: 'changed', message: `WARNING: the host key of ${host} has CHANGED: engine '${q.engine}' pins host-key: ${pin}, but the host offered ${offered}. Someone may be intercepting the connection (a man-in-the-middle attack), or the host key was replaced; Kiln refuses to connect. If the change is expected, check the new fingerprint with the machine's owner and put it in host-key: on the engine.` };
  }

  const plain = entries.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.key.equals(q.key));
  if (same) return { ok: true, via: where(same) };

  const old = plain.find((e) => e.keyType === type);
  if (old) {
    const forget = `ssh-keygen -R '${q.alias ?? (q.port === 22 ? q.host : `[${q.host}]:${q.port}`)}' -f ${old.file}`;
    return { ok: false, kind: 'changed', message: `WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED: the host key of ${host} has CHANGED: the host offered ${offered}, but ${where(old)} holds another ${type} key (${fingerprint(old.key)}) for it. Someone may be intercepting the connection (a man-in-the-middle attack), or the host key was replaced; Kiln refuses to connect to engine '${q.engine}'. If the change is expected, remove the old key (\`${forget}\`) and add the new one after checking its fingerprint.` };
  }

  const notes: string[] = [];
  const ca = entries.find((e) => e.marker === 'cert-authority');
  if (ca) notes.push(`${where(ca)} trusts a @cert-authority for it, but Kiln does not support SSH host certificates: trust the host's own key instead`);
  const otherTypes = [...new Set(plain.map((e) => e.keyType))];
  if (otherTypes.length) notes.push(`known_hosts has its ${otherTypes.join(', ')} key but no ${type} key, and the host did not offer those`);
  // A mistyped line is skipped, as ssh skips it; say so, since it may be the one meant for this host.
  const { problems } = q.known;
  if (problems.length) notes.push(`lines skipped: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; and ${problems.length - 3} more` : ''}`);
  const looked = q.known.files.length ? q.known.files.join(', ') : `none of ${q.known.searched.join(', ') || 'the files'} exists`;
  const trustFile = q.trustFile ?? '~/.ssh/known_hosts';
  // Under a HostKeyAlias, ssh-keyscan's `[host]:port` line would not be found: give the line itself.
  const trust = q.alias !== undefined
    ? `add the line \`${q.alias} ${type} ${q.key.toString('base64')}\` to ${trustFile}`
    : `run \`ssh-keyscan ${q.port === 22 ? '' : `-p ${q.port} `}${q.host} >> ${trustFile}\``;
  return {
    ok: false, kind: 'unknown',
    message: `the SSH host key of ${host} is not known: the host offered ${offered}, which neither host-key: on engine '${q.engine}' nor known_hosts (${looked}) has${notes.length ? ` (${notes.join('; ')})` : ''}. Kiln never trusts a host key on first use. Check the fingerprint with the machine's owner (on it: ssh-keygen -lf /etc/ssh/ssh_host_${hostKeyFileKind(type)}_key.pub), then either ${trust} or set \`host-key: ${fp}\` on the engine in kiln.config.yml.`,
  };
}

/** Host key algorithms that produce keys of each known_hosts key type. */
const ALGORITHMS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/**
 * The host key algorithms to ask for first: those of the keys known_hosts holds for the host, as
 * `ssh` orders them, so that a host known by its RSA key is not asked for an ed25519 key it would
 * then be refused for. Empty when nothing is known (the default order stands).
 */
export function preferredHostKeyAlgorithms(known: KnownHosts, host: string, port: number, alias?: string): string[] {
  const types = entriesFor(known, host, port, alias).filter((e) => e.marker === undefined).map((e) => e.keyType);
  return [...new Set(types.flatMap((t) => ALGORITHMS[t] ?? []))];
}
