/**
 * One long-lived SSH connection to an engine's machine, shared by every Docker API call.
 *
 * Each HTTP connection dockerode opens is a new channel on it running `docker system dial-stdio`
 * (the docker CLI's own way, so the remote side needs only sshd and the docker CLI). Opening a
 * channel costs one round trip; a new SSH connection per call — docker-modem's behaviour for
 * `ssh://` — costs a TCP connect, key exchange and authentication every time.
 *
 * The connection is opened on first use and again after it drops; a second one only while more
 * channels are open at once than sshd allows on one (MaxSessions, 10 by default). Authentication: the engine's
 * stored private key, else the user's ssh-agent (SSH_AUTH_SOCK), else ~/.ssh/id_ed25519 or id_rsa.
 * `close()` ends it for good.
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
import type { Client, ClientChannel, ConnectConfig, ServerHostKeyAlgorithm } from 'ssh2';
import { ssh2 } from '../../core/ssh2.js';
import { checkHostKey, preferredHostKeyAlgorithms } from './host-key-check.js';
import { defaultKnownHostsFiles, readKnownHostsFiles } from './known-hosts.js';


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
  /** Where known hosts are read; default the files `ssh` reads (~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts, …). */
  knownHostsFiles?: string[];
}

export class SshConnection {
  private links: Link[] = [];
  private closed = false;
  /** How many SSH connections were opened (the benchmark and tests read it). */
  connects = 0;

  constructor(private readonly url: URL, private readonly o: SshConnectionOptions) {}

  private get host(): string {
    return this.url.hostname.replace(/^\[(.*)\]$/, '$1');
  }

  private get port(): number {
    return Number(this.url.port || 22);
  }

  /** Host key checking for one connect: known_hosts read now, the verdict kept on the link. */
  private hostKeyConfig(link: Link): Pick<ConnectConfig, 'hostVerifier' | 'algorithms'> {
    const known = readKnownHostsFiles(this.o.knownHostsFiles ?? defaultKnownHostsFiles());
    const preferred = (this.o.hostKey ? [] : preferredHostKeyAlgorithms(known, this.host, this.port)) as ServerHostKeyAlgorithm[];
    const hostVerifier = (key: Buffer): boolean => {
      const verdict = checkHostKey({ engine: this.o.engine ?? this.url.host, host: this.host, port: this.port, key, pin: this.o.hostKey, known });
      if (!verdict.ok) link.refused ??= new HostKeyError(verdict.message, verdict.kind);
      return verdict.ok;
    };
    return { hostVerifier, ...(preferred.length ? { algorithms: { serverHostKey: { remove: preferred, prepend: preferred, append: [] } } } : {}) };
  }

  private config(link: Link): ConnectConfig {
    const base: ConnectConfig = {
      host: this.host, port: this.port, username: decodeURIComponent(this.url.username) || process.env.USER || 'root',
      readyTimeout: this.o.timeoutMs, keepaliveInterval: 5_000, keepaliveCountMax: 2, ...this.hostKeyConfig(link),
    };
    if (this.o.privateKey) return { ...base, privateKey: this.o.privateKey };
    if (process.env.SSH_AUTH_SOCK) return { ...base, agent: process.env.SSH_AUTH_SOCK };
    for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
      const file = join(homedir(), '.ssh', name);
      if (existsSync(file)) return { ...base, privateKey: readFileSync(file) };
    }
    return base;
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
