/**
 * Where `ssh://user@host:port` really leads, read from the user's ~/.ssh/config as `ssh` reads it.
 * People test an engine with `docker -H ssh://build-box`, which runs the `ssh` binary and so follows
 * their `Host build-box` block (HostName, User, Port, IdentityFile, HostKeyAlias,
 * UserKnownHostsFile); the same address must lead Kiln to the same machine, as the same user, with
 * the same keys and the same host key check.
 *
 * OpenSSH's rules, kept here: what the address gives (user, port) wins over the file; for each
 * option the first value found wins (the `ssh-config` package's `compute`, which walks Host and
 * Match blocks in order); IdentityFile accumulates; `Include` splices files in (relative names
 * under ~/.ssh, globs, conditional when inside a Host block); `~`, `%` tokens and `${VAR}` are
 * expanded in file names. `Match exec` commands are not run (such a block never applies): a
 * connection attempt every two seconds must not run shell commands from a config file.
 *
 * ProxyJump and ProxyCommand are refused with the file and line: Kiln opens the TCP connection
 * itself, and connecting directly instead of through the jump host would reach another machine,
 * or the same one unchecked. A malformed line is refused with the file and line, as `ssh` refuses
 * to start. Read at every connect (a few hundred bytes), so an edit counts at the next health ping.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname as localHostname, userInfo } from 'node:os';
import { isAbsolute, join, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import SSHConfig, { glob, type Directive, type Line, type Section } from 'ssh-config';

export class SshConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshConfigError';
  }
}

export interface SshTargetInput {
  /** The host as the address names it (an alias, or the machine itself). */
  host: string;
  /** From the address; wins over Port in the file. */
  port?: number;
  /** From the address; wins over User in the file. */
  user?: string;
  /** The user's ssh config (default ~/.ssh/config); a missing file is an empty one. */
  configFile: string;
  /** For `~`, `%d` and relative Include names (~/.ssh). */
  home: string;
  /** The local user: the default remote user, and `%u`. */
  localUser: string;
  env?: Record<string, string | undefined>;
}

export interface SshTarget {
  /** The host to connect to: HostName, else the address's host. */
  host: string;
  port: number;
  user: string;
  /** IdentityFile values, expanded, in order (they may not exist: `ssh` skips those). */
  identityFiles: string[];
  /** IdentitiesOnly yes: only the identity files, no ssh-agent keys. */
  identitiesOnly: boolean;
  /** The name to look the host key up by in known_hosts, instead of `[host]:port`. */
  hostKeyAlias?: string;
  /** UserKnownHostsFile: replaces ~/.ssh/known_hosts and known_hosts2 (empty for `none`). */
  userKnownHostsFiles?: string[];
  /** GlobalKnownHostsFile: replaces /etc/ssh/ssh_known_hosts and ssh_known_hosts2. */
  globalKnownHostsFiles?: string[];
}

/** OpenSSH's READCONF_MAX_DEPTH: an Include loop ends here. */
const MAX_INCLUDE_DEPTH = 16;
/** Options whose values carry where they were written, to name the line in an error. */
const LOCATED = /^(port|proxyjump|proxycommand|identityfile|identitiesonly|hostkeyalias|userknownhostsfile|globalknownhostsfile)$/i;
/** Appended to located values: compute() copies values, so the origin travels inside them. */
const MARK = '\u0000';

interface Origin { file: string; line: number }

class Reader {
  readonly origins: Origin[] = [];
  constructor(private readonly input: SshTargetInput, private readonly host: string) {}

  /** One file, its Includes spliced in, as one flat SSHConfig. */
  read(file: string, depth: number, optional: boolean): SSHConfig {
    if (depth > MAX_INCLUDE_DEPTH) throw new SshConfigError(`${file}: Include nested more than ${MAX_INCLUDE_DEPTH} deep (does it include itself?)`);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (optional && (code === 'ENOENT' || code === 'ENOTDIR')) return new SSHConfig();
      throw new SshConfigError(`${file}: cannot be read (${code ?? (err as Error).message})`);
    }
    const parsed = parseLocated(text, file);
    this.locate(parsed, file);
    const out = new SSHConfig();
    for (const node of parsed) {
      if (isInclude(node)) out.push(...this.include(node as Directive, depth));
      else if ('config' in node) out.push(...this.section(node, depth));
      else out.push(node);
    }
    return out;
  }

  /** A Host or Match block; an Include inside it applies only when the block does. */
  private section(node: Section, depth: number): Line[] {
    const out: Line[] = [];
    let current: Section = { ...node, config: new SSHConfig() };
    for (const line of node.config) {
      if (!isInclude(line)) {
        current.config.push(line);
        continue;
      }
      const isHost = /^host$/i.test(node.param);
      if (isHost && !glob(values(node.value), this.host)) continue;
      const included = this.include(line as Directive, depth);
      const firstBlock = included.findIndex((l) => 'config' in l);
      current.config.push(...(firstBlock < 0 ? included : included.slice(0, firstBlock)));
      if (firstBlock < 0) continue;
      if (!isHost) throw new SshConfigError(`${where(line)}: Kiln cannot read an Include of Host or Match blocks inside a Match block; move the Include out of the Match block`);
      // The block matched: its later lines still apply, after the included blocks.
      out.push(current, ...included.slice(firstBlock));
      current = { ...node, config: new SSHConfig() };
    }
    out.push(current);
    return out;
  }

  private include(line: Directive, depth: number): Line[] {
    const out: Line[] = [];
    for (const pattern of values(line.value)) {
      const expanded = expandTilde(this.input.home, pattern);
      const absolute = isAbsolute(expanded) ? expanded : join(this.input.home, '.ssh', expanded);
      for (const file of globFiles(absolute)) out.push(...this.read(file, depth + 1, true));
    }
    return out;
  }

  /** Gives each node its line number, and marks located values with their origin. */
  private locate(config: SSHConfig, file: string): void {
    let newlines = 0;
    const visit = (nodes: Line[]): void => {
      for (const node of nodes) {
        const line = 1 + newlines + count(node.before);
        newlines += count(node.before) + count(node.after);
        if (node.type === SSHConfig.DIRECTIVE) {
          // The parser reads a keyword with no value as a keyword ending in a line break, and the next line as its value.
          newlines += count(node.param) + count(node.separator);
          if (/\s/.test(node.param) || values(node.value).join('') === '') throw new SshConfigError(`${file}:${line}: '${node.param.trim()}' has no value`);
          LINES.set(node, { file, line });
          if (LOCATED.test(node.param)) {
            const tag = `${MARK}${this.origins.push({ file, line }) - 1}`;
            if (typeof node.value === 'string') node.value += tag;
            else node.value = /^proxycommand$/i.test(node.param)
              ? node.value.map((v, i, all) => (i === all.length - 1 ? { ...v, val: v.val + tag } : v))
              : node.value.map((v) => ({ ...v, val: v.val + tag }));
          }
        }
        if ('config' in node) visit(node.config);
      }
    };
    visit(config);
  }

  /** A computed value without its mark, and where it was written. */
  untag(value: string): { value: string; origin: Origin } {
    const at = /\u0000(\d+)/.exec(value);
    return { value: value.replace(/\u0000\d+/g, ''), origin: this.origins[Number(at?.[1] ?? 0)] ?? { file: this.input.configFile, line: 0 } };
  }
}

const LINES = new WeakMap<object, Origin>();
const where = (node: object): string => {
  const o = LINES.get(node);
  return o ? `${o.file}:${o.line}` : 'the ssh config';
};
const count = (s: string | undefined): number => (s?.match(/\n/g) ?? []).length;
const isInclude = (node: Line): boolean => node.type === SSHConfig.DIRECTIVE && /^include$/i.test(node.param);

function values(value: Directive['value']): string[] {
  return typeof value === 'string' ? [value] : value.map((v) => v.val);
}

/** ssh-config's parser throws without a position: find the line by parsing each alone. */
function parseLocated(text: string, file: string): SSHConfig {
  try {
    return SSHConfig.parse(text);
  } catch (err) {
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      try {
        SSHConfig.parse(lines[i]);
      } catch (lineErr) {
        const why = lineErr instanceof TypeError ? `'${lines[i].trim()}' has no value` : (lineErr as Error).message;
        throw new SshConfigError(`${file}:${i + 1}: cannot be read: ${why}`);
      }
    }
    throw new SshConfigError(`${file}: cannot be read: ${(err as Error).message}`);
  }
}

function expandTilde(home: string, path: string): string {
  return path === '~' || path.startsWith('~/') ? join(home, path.slice(1)) : path;
}

/** Include's glob(3): each path component may hold `*`, `?` or `[…]`; matches sorted, as glob sorts. */
function globFiles(pattern: string): string[] {
  if (!/[*?[]/.test(pattern)) return [pattern];
  let paths = [pattern.startsWith(sep) ? sep : '.'];
  for (const part of pattern.split(sep).filter(Boolean)) {
    if (!/[*?[]/.test(part)) {
      paths = paths.map((p) => join(p, part));
      continue;
    }
    const isMatch = picomatch(part, { dot: false });
    paths = paths.flatMap((p) => {
      try {
        return readdirSync(p).filter((name) => isMatch(name)).sort().map((name) => join(p, name));
      } catch {
        return [];
      }
    });
  }
  return paths.filter((p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  });
}

/** The ssh config `ssh` reads for the user: ~/.ssh/config. */
export function defaultSshConfigFile(home: string): string {
  return join(home, '.ssh', 'config');
}

/** The connection `ssh` would make for the address. Throws SshConfigError naming the file and line. */
export function resolveSshTarget(input: SshTargetInput): SshTarget {
  const originalHost = input.host.toLowerCase();
  const reader = new Reader(input, originalHost);
  const config = reader.read(input.configFile, 0, true);
  const computed = config.compute({ Host: originalHost, ...(input.user ? { User: input.user } : {}) }, { ignoreCase: true, matchExec: false });
  const one = (key: string): { value: string; origin: Origin } | undefined => {
    const v = computed[key];
    if (v === undefined) return undefined;
    return reader.untag(Array.isArray(v) ? v.join(' ') : v);
  };
  const many = (key: string): { value: string; origin: Origin }[] => {
    const v = computed[key];
    return v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => reader.untag(x));
  };

  for (const option of ['proxyjump', 'proxycommand']) {
    const proxy = one(option);
    if (!proxy || proxy.value.toLowerCase() === 'none') continue;
    const name = option === 'proxyjump' ? 'ProxyJump' : 'ProxyCommand';
    throw new SshConfigError(`${proxy.origin.file}:${proxy.origin.line}: ${name} ${proxy.value} applies to '${input.host}', but Kiln does not support ProxyJump or ProxyCommand, and will not connect directly instead. Give Kiln a direct route to the machine: a VPN, or a forwarded port (\`ssh -fNL 2222:HOST:22 JUMPHOST\`, then the engine address ssh://USER@127.0.0.1:2222 with HostKeyAlias HOST); or, if the machine is reachable directly, put \`${name} none\` in a \`Host ${input.host}\` block above that line`);
  }

  const hostName = typeof computed.hostname === 'string' ? computed.hostname.replace(/%(.)/g, (_m, t: string) => (t === 'h' ? originalHost : t === '%' ? '%' : `%${t}`)) : undefined;
  const host = hostName || input.host;
  const user = input.user || (typeof computed.user === 'string' ? computed.user : '') || input.localUser;

  let port = input.port;
  const portValue = one('port');
  if (port === undefined && portValue) {
    port = /^\d+$/.test(portValue.value) ? Number(portValue.value) : NaN;
    if (!(port >= 1 && port <= 65535)) throw new SshConfigError(`${portValue.origin.file}:${portValue.origin.line}: Port '${portValue.value}' is not a port number (1-65535)`);
  }
  port ??= 22;

  const only = one('identitiesonly');
  if (only && !/^(yes|no)$/i.test(only.value)) throw new SshConfigError(`${only.origin.file}:${only.origin.line}: IdentitiesOnly '${only.value}' must be yes or no`);

  const tokens = { host, originalHost, port, user };
  const files = (key: string): string[] => many(key).map(({ value, origin }) => expandPath(value, origin, input, tokens));
  const alias = one('hostkeyalias');
  const userKnown = computed.userknownhostsfile === undefined ? undefined : files('userknownhostsfile').filter((f) => f.toLowerCase() !== 'none');
  const globalKnown = computed.globalknownhostsfile === undefined ? undefined : files('globalknownhostsfile').filter((f) => f.toLowerCase() !== 'none');
  return {
    host, port, user,
    identityFiles: files('identityfile').filter((f) => f.toLowerCase() !== 'none'),
    identitiesOnly: only?.value.toLowerCase() === 'yes',
    ...(alias ? { hostKeyAlias: alias.value } : {}),
    ...(userKnown ? { userKnownHostsFiles: userKnown } : {}),
    ...(globalKnown ? { globalKnownHostsFiles: globalKnown } : {}),
  };
}

/** `~`, `${VAR}` and OpenSSH's `%` tokens in a file name (ssh_config(5), TOKENS). */
function expandPath(raw: string, origin: Origin, input: SshTargetInput, t: { host: string; originalHost: string; port: number; user: string }): string {
  const at = `${origin.file}:${origin.line}`;
  const env = input.env ?? process.env;
  const withEnv = raw.replace(/\$\{([^}]*)\}/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined) throw new SshConfigError(`${at}: '${raw}' names the environment variable ${name}, which is not set`);
    return v;
  });
  const tokens: Record<string, () => string> = {
    '%': () => '%', d: () => input.home, h: () => t.host, n: () => t.originalHost, p: () => String(t.port), r: () => t.user,
    u: () => input.localUser, l: () => localHostname(), L: () => localHostname().split('.')[0], i: () => String(userInfo().uid),
  };
  const expanded = withEnv.replace(/%(.?)/g, (_m, k: string) => {
    const f = tokens[k];
    if (!f) throw new SshConfigError(`${at}: '${raw}' has the token %${k}, which Kiln does not expand (it knows %%, %d, %h, %i, %L, %l, %n, %p, %r, %u)`);
    return f();
  });
  const path = expandTilde(input.home, expanded);
  return path.toLowerCase() === 'none' ? path : resolve(path);
}
