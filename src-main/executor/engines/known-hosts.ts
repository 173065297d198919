/**
 * OpenSSH's known_hosts files, read the way `ssh` reads them (sshd(8), "SSH_KNOWN_HOSTS FILE
 * FORMAT"), so that a host the user already trusts with `ssh` is trusted by Kiln and no other.
 *
 * A line is `[@revoked|@cert-authority] patterns keytype base64-key [comment]`. The patterns are a
 * comma-separated list matched against the name `ssh` looks up: the host in lower case, or
 * `[host]:port` when the port is not 22. `*` and `?` are wildcards; a pattern starting with `!`
 * negates: a host it matches is not covered by the line even when another pattern matches. A field
 * starting with `|1|salt|hash` is one hashed name (`HashKnownHosts yes`): HMAC-SHA1 of the name keyed
 * with the salt. Lines that cannot be read are skipped, as `ssh` skips them, and reported.
 *
 * No npm package for this format is well kept (none has users or releases to speak of), and the
 * format is small: it is parsed here and tested in known-hosts.test.ts. Pure apart from
 * readKnownHostsFiles, which reads the files synchronously (a few kilobytes, once per SSH connect,
 * so that a key added with ssh-keyscan counts at the next attempt without a restart).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface KnownHostEntry {
  file: string;
  /** 1-based. */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** The patterns field as written (a hashed name starts with `|1|`). */
  hosts: string;
  keyType: string;
  /** The public key blob, as the server sends it during key exchange. */
  key: Buffer;
}

export interface KnownHosts {
  entries: KnownHostEntry[];
  /** `FILE:LINE: why` for each line skipped. */
  problems: string[];
  /** The files that were read (missing ones are not listed). */
  files: string[];
  /** Every file looked for, read or not. */
  searched: string[];
}

/** The files `ssh` reads by default: UserKnownHostsFile, then GlobalKnownHostsFile. */
export function defaultKnownHostsFiles(home = homedir(), platform: NodeJS.Platform = process.platform): string[] {
  return [...defaultUserKnownHostsFiles(home), ...defaultGlobalKnownHostsFiles(platform)];
}

/** UserKnownHostsFile's default (~/.ssh/config may replace it). */
export function defaultUserKnownHostsFiles(home = homedir()): string[] {
  return [join(home, '.ssh', 'known_hosts'), join(home, '.ssh', 'known_hosts2')];
}

/** GlobalKnownHostsFile's default (~/.ssh/config may replace it). */
export function defaultGlobalKnownHostsFiles(platform: NodeJS.Platform = process.platform): string[] {
  if (platform === 'win32') {
    const programData = process.env.PROGRAMDATA ?? 'C:\\ProgramData';
    return [join(programData, 'ssh', 'ssh_known_hosts'), join(programData, 'ssh', 'ssh_known_hosts2')];
  }
  return ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'];
}

/** The first string of an SSH public key blob: its type (`ssh-ed25519`, `ssh-rsa`, …). */
export function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** One file's text. Never throws: a line it cannot read is a problem and is skipped. */
export function parseKnownHosts(text: string, file: string): { entries: KnownHostEntry[]; problems: string[] } {
  const entries: KnownHostEntry[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/[ \t]+/);
    const where = `${file}:${i + 1}`;
    let marker: KnownHostEntry['marker'];
    if (fields[0].startsWith('@')) {
      const m = fields.shift() as string;
      if (m !== '@revoked' && m !== '@cert-authority') {
        problems.push(`${where}: unknown marker '${m}' (OpenSSH knows @revoked and @cert-authority)`);
        return;
      }
      marker = m === '@revoked' ? 'revoked' : 'cert-authority';
    }
    const [hosts, keyType, base64] = fields;
    if (!hosts || !keyType || !base64) {
      problems.push(`${where}: expected host patterns, a key type and a base64 key`);
      return;
    }
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(base64) ? Buffer.from(base64, 'base64') : undefined;
    const inBlob = key ? blobKeyType(key) : undefined;
    if (!key || inBlob !== keyType) {
      problems.push(`${where}: the key is not a valid ${keyType} key`);
      return;
    }
    entries.push({ file, line: i + 1, ...(marker ? { marker } : {}), hosts, keyType, key });
  });
  return { entries, problems };
}

/** Reads the files in order; a missing or unreadable file is passed over (as `ssh` does). */
export function readKnownHostsFiles(files: string[]): KnownHosts {
  const out: KnownHosts = { entries: [], problems: [], files: [], searched: files };
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') out.problems.push(`${file}: cannot be read (${code ?? (err as Error).message})`);
      continue;
    }
    out.files.push(file);
    const parsed = parseKnownHosts(text, file);
    out.entries.push(...parsed.entries);
    out.problems.push(...parsed.problems);
  }
  return out;
}

/** The name `ssh` looks a host up by: `host`, or `[host]:port` off port 22; lower case, no IPv6 brackets. */
export function knownHostsName(host: string, port: number): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return port === 22 ? bare : `[${bare}]:${port}`;
}

/** OpenSSH's match_pattern: `*` any run of characters, `?` one character, the rest literal (case-insensitive). */
export function matchPattern(name: string, pattern: string): boolean {
  const source = pattern.toLowerCase().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's').test(name.toLowerCase());
}

function hashedMatch(name: string, field: string): boolean {
  const parts = field.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2], 'base64');
  const want = Buffer.from(parts[3], 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/**
 * Whether the line's patterns cover `name` (from knownHostsName): OpenSSH's match_hostname, where a
 * matching negated pattern wins over every positive one.
 */
export function hostsFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedMatch(name, field);
  let positive = false;
  for (const raw of field.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (pattern === '' || !matchPattern(name, pattern)) continue;
    if (negated) return false;
    positive = true;
  }
  return positive;
}

/**
 * The entries whose patterns cover the host at `port`, in file order; with `alias` (HostKeyAlias
 * in ~/.ssh/config), those that cover the alias, looked up as it is written, with no port, as `ssh` does.
 */
export function entriesFor(known: KnownHosts, host: string, port: number, alias?: string): KnownHostEntry[] {
  const name = alias !== undefined ? alias.toLowerCase() : knownHostsName(host, port);
  return known.entries.filter((e) => hostsFieldMatches(e.hosts, name));
}
