/**
 * One long-lived SSH connection to an engine's machine, shared by every Docker API call.
 *
 * Each HTTP connection dockerode opens is a new channel on it running `docker system dial-stdio`
 * (the docker CLI's own way, so the remote side needs only sshd and the docker CLI). Opening a
 * channel costs one round trip; a new SSH connection per call — docker-modem's behaviour for
 * `ssh://` — costs a TCP connect, key exchange and authentication every time.
 *
 * The connection is opened on first use and again after it drops. Authentication: the engine's
 * stored private key, else the user's ssh-agent (SSH_AUTH_SOCK), else ~/.ssh/id_ed25519 or id_rsa.
 * `close()` ends it for good.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';

const require = createRequire(import.meta.url);

/** ssh2 is docker-modem's own dependency: load the copy it uses. */
function loadSsh2(): { Client: new () => Client } {
  const modemDir = dirname(require.resolve('docker-modem', { paths: [dirname(require.resolve('dockerode'))] }));
  return require(require.resolve('ssh2', { paths: [modemDir] })) as { Client: new () => Client };
}

export class SshConnection {
  private client: Client | undefined;
  private ready: Promise<Client> | undefined;
  private closed = false;
  /** How many SSH connections were opened (the benchmark and tests read it). */
  connects = 0;

  constructor(private readonly url: URL, private readonly o: { privateKey?: string; timeoutMs: number }) {}

  private config(): ConnectConfig {
    const base: ConnectConfig = {
      host: this.url.hostname, port: Number(this.url.port || 22), username: decodeURIComponent(this.url.username) || process.env.USER || 'root',
      readyTimeout: this.o.timeoutMs, keepaliveInterval: 5_000, keepaliveCountMax: 2,
    };
    if (this.o.privateKey) return { ...base, privateKey: this.o.privateKey };
    if (process.env.SSH_AUTH_SOCK) return { ...base, agent: process.env.SSH_AUTH_SOCK };
    for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
      const file = join(homedir(), '.ssh', name);
      if (existsSync(file)) return { ...base, privateKey: readFileSync(file) };
    }
    return base;
  }

  private connect(): Promise<Client> {
    if (this.ready) return this.ready;
    const { Client: SshClient } = loadSsh2();
    const client = new SshClient();
    this.client = client;
    this.connects++;
    this.ready = new Promise<Client>((resolve, reject) => {
      const forget = (): void => {
        if (this.client === client) {
          this.client = undefined;
          this.ready = undefined;
        }
      };
      client.once('ready', () => resolve(client));
      client.on('error', (err) => {
        forget();
        reject(err);
      });
      client.on('close', forget);
      client.connect(this.config());
    });
    return this.ready;
  }

  /** A new `docker system dial-stdio` channel: one HTTP connection to the remote engine. */
  async dial(): Promise<Duplex> {
    if (this.closed) throw new Error(`the SSH connection to ${this.url.host} is closed`);
    const client = await this.connect();
    return new Promise<Duplex>((resolve, reject) => {
      client.exec('docker system dial-stdio', (err: Error | undefined, channel: ClientChannel) => (err ? reject(err) : resolve(channel)));
    });
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
    this.client?.end();
    this.client = undefined;
    this.ready = undefined;
  }
}
