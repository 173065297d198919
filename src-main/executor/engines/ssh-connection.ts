/**
 * One long-lived SSH connection to an engine's machine, shared by every Docker API call.
 *
 * Each HTTP connection dockerode opens is a new channel on it running `docker system dial-stdio`
 * (the docker CLI's own way, so the remote side needs only sshd and the docker CLI). Opening a
 * channel costs one round trip; a new SSH connection per call — docker-modem's behaviour for
 * `ssh://` — costs a TCP connect, key exchange and authentication every time.
 *
 * The connection is opened on first use and again after it drops; a second one only while more
 * channels are open at once than sshd allows on one (MaxSessions, 10 by default). `close()` ends it for good.
 *
 * Where it goes is what `ssh` would make of the address with the user's ~/.ssh/config
 * (ssh-client-config.ts, read at every connect): HostName, User, Port, HostKeyAlias,
 * UserKnownHostsFile, the address's own user and port winning. Authentication: the engine's stored
 * private key alone when it has one; else, in order, the user's ssh-agent (SSH_AUTH_SOCK; not with
 * IdentitiesOnly yes), the config's IdentityFile keys, then ~/.ssh/id_ed25519, id_ecdsa and id_rsa
 * (not with IdentitiesOnly yes and an IdentityFile).
 *
 * The server's host key is checked before anything is sent (host-key-check.ts: the engine's
 * `host-key:`, else known_hosts as `ssh` reads them, re-read at every connect so a key added with
 * ssh-keyscan counts at the next health ping). A refused key fails the connect with a HostKeyError
 * whose message says why and how to trust the host, which becomes the engine's last error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { AgentAuthMethod, Client, ClientChannel, ConnectConfig, PublicKeyAuthMethod, ServerHostKeyAlgorithm } from 'ssh2';
import { ssh2 } from '../../core/ssh2.js';
import { checkHostKey, preferredHostKeyAlgorithms } from './host-key-check.js';
import { defaultGlobalKnownHostsFiles, defaultUserKnownHostsFiles, readKnownHostsFiles } from './known-hosts.js';
import { defaultSshConfigFile, resolveSshTarget, type SshTarget } from './ssh-client-config.js';


/** Channels per SSH connection: sshd's MaxSessions defaults to 10. */
const CHANNELS_PER_CONNECTION = 8;

interface Link {
  client: Client;
  ready: Promise<Client>;
  channels: number;
  alive: boolean;
  /** Why the host key was refused, when it was. */
  refused?: HostKeyError;
}

/** The server's host key was refused (unknown, changed or revoked): never retried silently. */
export class HostKeyError extends Error {
  constructor(message: string, readonly kind: 'unknown' | 'changed' | 'revoked') {
    super(message);
    this.name = 'HostKeyError';
  }
}

export interface SshConnectionOptions {
  privateKey?: string;
  timeoutMs: number;
  /** The engine's name, for messages. */
  engine?: string;
  /** The engine's `host-key:` fingerprint: when set, the only key accepted. */
  hostKey?: string;
  /** Where known hosts are read; default the files `ssh` reads (~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts, …, or UserKnownHostsFile). */
  knownHostsFiles?: string[];
  /** The user's ssh config; default ~/.ssh/config. */
  sshConfigFile?: string;
}

export class SshConnection {
  private links: Link[] = [];
  private closed = false;
  /** How many SSH connections were opened (the benchmark and tests read it). */
  connects = 0;

  constructor(private readonly url: URL, private readonly o: SshConnectionOptions) {}

  /** Where the address leads now, as `ssh` reads ~/.ssh/config; throws SshConfigError naming the file and line. */
  private target(): SshTarget {
    const home = homedir();
    return resolveSshTarget({
      host: this.url.hostname.replace(/^\[(.*)\]$/, '$1'),
      ...(this.url.port ? { port: Number(this.url.port) } : {}),
      ...(this.url.username ? { user: decodeURIComponent(this.url.username) } : {}),
      configFile: this.o.sshConfigFile ?? defaultSshConfigFile(home), home, localUser: process.env.USER || 'root',
    });
  }

  /** Host key checking for one connect: known_hosts read now, the verdict kept on the link. */
  private hostKeyConfig(link: Link, t: SshTarget): Pick<ConnectConfig, 'hostVerifier' | 'algorithms'> {
    const files = this.o.knownHostsFiles ?? [...(t.userKnownHostsFiles ?? defaultUserKnownHostsFiles()), ...(t.globalKnownHostsFiles ?? defaultGlobalKnownHostsFiles())];
    const known = readKnownHostsFiles(files);
    const preferred = (this.o.hostKey ? [] : preferredHostKeyAlgorithms(known, t.host, t.port, t.hostKeyAlias)) as ServerHostKeyAlgorithm[];
    const hostVerifier = (key: Buffer): boolean => {
      const verdict = checkHostKey({
        engine: this.o.engine ?? this.url.host, host: t.host, port: t.port, key, pin: this.o.hostKey, known,
        ...(t.hostKeyAlias !== undefined ? { alias: t.hostKeyAlias } : {}), ...(t.userKnownHostsFiles?.length ? { trustFile: t.userKnownHostsFiles[0] } : {}),
      });
      if (!verdict.ok) link.refused ??= new HostKeyError(verdict.message, verdict.kind);
      return verdict.ok;
    };
    return { hostVerifier, ...(preferred.length ? { algorithms: { serverHostKey: { remove: preferred, prepend: preferred, append: [] } } } : {}) };
  }

  private config(link: Link): ConnectConfig {
    const t = this.target();
    const base: ConnectConfig = {
      host: t.host, port: t.port, username: t.user,
      readyTimeout: this.o.timeoutMs, keepaliveInterval: 5_000, keepaliveCountMax: 2, ...this.hostKeyConfig(link, t),
    };
    if (this.o.privateKey) return { ...base, privateKey: this.o.privateKey };
    const auth: (AgentAuthMethod | PublicKeyAuthMethod)[] = [];
    const agent = process.env.SSH_AUTH_SOCK;
    if (agent && !t.identitiesOnly) auth.push({ type: 'agent', username: t.user, agent });
    const defaults = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((name) => join(homedir(), '.ssh', name));
    const files = t.identitiesOnly && t.identityFiles.length ? t.identityFiles : [...t.identityFiles, ...defaults];
    // As ssh does, a key file that is missing or unreadable is passed over.
    for (const file of new Set(files)) {
      if (!existsSync(file)) continue;
      try {
        auth.push({ type: 'publickey', username: t.user, key: readFileSync(file) });
      } catch { /* a directory or no permission: next key */ }
    }
    return auth.length ? { ...base, authHandler: auth } : base;
  }

  /**
   * A connection with a free channel: the first one normally. Many long streams at once (attached
   * steps, waits) can exceed what sshd allows per connection; then a second one is opened.
   */
  private link(): Link {
    const open = this.links.find((l) => l.alive && l.channels < CHANNELS_PER_CONNECTION);
    if (open) return open;
    const { Client: SshClient } = ssh2();
    const client = new SshClient();
    this.connects++;
    const link: Link = { client, channels: 0, alive: true, ready: Promise.resolve(client) };
    const forget = (): void => {
      link.alive = false;
      this.links = this.links.filter((l) => l !== link);
    };
    link.ready = new Promise<Client>((resolve, reject) => {
      client.once('ready', () => resolve(client));
      client.on('error', (err) => {
        forget();
        reject(link.refused ?? err);
      });
      client.on('close', forget);
      try {
        client.connect(this.config(link));
      } catch (err) {
        forget();
        reject(err as Error);
      }
    });
    link.ready.catch(() => undefined);
    this.links.push(link);
    return link;
  }

  /** A new `docker system dial-stdio` channel: one HTTP connection to the remote engine. */
  async dial(): Promise<Duplex> {
    if (this.closed) throw new Error(`the SSH connection to ${this.url.host} is closed`);
    const link = this.link();
    link.channels++;
    let channel: ClientChannel;
    try {
      const client = await link.ready;
      channel = await new Promise<ClientChannel>((resolve, reject) => {
        client.exec('docker system dial-stdio', (err: Error | undefined, ch: ClientChannel) => (err ? reject(err) : resolve(ch)));
      });
    } catch (err) {
      link.channels--;
      throw err;
    }
    channel.once('close', () => link.channels--);
    // http.Agent treats its connections as sockets.
    const socketLike = channel as unknown as Record<string, unknown>;
    for (const m of ['setKeepAlive', 'setNoDelay', 'setTimeout', 'ref', 'unref']) socketLike[m] ??= () => channel;
    return channel;
  }

  /** An http.Agent whose connections are channels of this one SSH connection. */
  agent(): HttpAgent {
    const agent = new HttpAgent({ keepAlive: true });
    const create = (_options: unknown, cb: (err: Error | null, socket?: Duplex) => void): undefined => {
      this.dial().then((s) => cb(null, s), (err: Error) => cb(err));
      return undefined;
    };
    (agent as unknown as { createConnection: typeof create }).createConnection = create;
    return agent;
  }

  close(): void {
    this.closed = true;
    for (const l of this.links) l.client.end();
    this.links = [];
  }
}
