/**
 * A dockerode client for one engine endpoint (unix socket, named pipe, tcp with or without TLS,
 * ssh), with a timeout on every short Docker call.
 *
 * Timeouts: a half-open TCP connection (a cut cable, a sleeping laptop) never errors by itself, so a
 * call on it would hang a worker forever. Every request that expects a short answer (create,
 * inspect, remove, list, ping, …) is aborted after `callTimeoutMs`; requests that legitimately last
 * as long as the job — a container's wait, an exec's hijacked stream, log and attach streams, image
 * pulls and archive transfers — are not, and are covered instead by the engine's health pings (a
 * down engine's jobs are abandoned and re-queued, see engine-pool.ts) and by the job's own timeout.
 *
 * SSH: docker-modem opens a new SSH connection for every API call when given `ssh://`. Here one
 * ssh2 connection per engine is kept open and each HTTP connection is a `docker system dial-stdio`
 * channel on it (what the docker CLI does), reconnecting when the SSH connection drops; the host
 * key is checked as `ssh` checks it (ssh-connection.ts).
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type Dockerode from 'dockerode';
import { dockerMessage } from '../containers.js';
import { createDockerClient } from '../docker-client.js';
import type { EngineEndpoint } from './engine-address.js';
import { SshConnection } from './ssh-connection.js';

export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/** Long-lived requests: no call timeout (the health ping and the job timeout cover them). */
const LONG_CALL = /\/(wait|attach|logs|archive|export|stats|events|build|load|get)(\?|$)|\/images\/create|\/exec\/[^/]+\/start|\/images\/[^/]+\/push/;

export interface EngineClientOptions {
  callTimeoutMs?: number;
}

export class EngineAddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineAddressError';
  }
}

/** The dockerode options for an endpoint; throws EngineAddressError for an address it cannot use. */
export function dockerOptionsFor(endpoint: EngineEndpoint): Dockerode.DockerOptions & { agent?: HttpAgent } {
  const { address, tls } = endpoint;
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new EngineAddressError(`engine '${endpoint.name}': '${address}' is not an engine address (expected unix:///path, tcp://host:port or ssh://user@host)`);
  }
  switch (url.protocol) {
    case 'unix:':
      return { socketPath: decodeURIComponent(url.pathname) };
    case 'npipe:':
      // npipe:////./pipe/docker_engine → \\.\pipe\docker_engine
      return { socketPath: address.replace(/^npipe:\/\//, '').replace(/\//g, '\\') };
    case 'tcp:':
    case 'http:':
    case 'https:': {
      const useTls = tls !== undefined || url.protocol === 'https:';
      const port = url.port || (useTls ? '2376' : '2375');
      if (!useTls) return { host: url.hostname, port, protocol: 'http' };
      return {
        host: url.hostname, port, protocol: 'https', ca: tls?.ca, cert: tls?.cert, key: tls?.key,
        // The context's SkipTLSVerify: encrypted, server not checked (as the docker CLI does).
        ...(tls?.skipVerify ? { agent: new HttpsAgent({ rejectUnauthorized: false, keepAlive: true, cert: tls.cert, key: tls.key }) } : {}),
      };
    }
    case 'ssh:':
      return { host: url.hostname, port: url.port || '22', protocol: 'http' };
    default:
      throw new EngineAddressError(`engine '${endpoint.name}': unsupported address scheme '${url.protocol}' in '${address}' (use unix://, tcp:// or ssh://)`);
  }
}

/** A client for the endpoint; `close()` ends its SSH connection, if any. */
export function createEngineClient(endpoint: EngineEndpoint, options: EngineClientOptions & { sshKey?: string } = {}): { docker: Dockerode; close(): void } {
  const dockerOptions = dockerOptionsFor(endpoint);
  let ssh: SshConnection | undefined;
  if (endpoint.address.startsWith('ssh:')) {
    ssh = new SshConnection(new URL(endpoint.address), {
      privateKey: options.sshKey ?? endpoint.sshKey, timeoutMs: options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
      engine: endpoint.name, hostKey: endpoint.hostKey, knownHostsFiles: endpoint.knownHostsFiles, sshConfigFile: endpoint.sshConfigFile,
    });
    dockerOptions.agent = ssh.agent();
  }
  const docker = createDockerClient(dockerOptions as Dockerode.DockerOptions);
  const modem = docker.modem as unknown as { agent?: HttpAgent };
  if (dockerOptions.agent) modem.agent = dockerOptions.agent;
  withCallTimeouts(docker, options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
  return { docker, close: () => ssh?.close() };
}

const TLS_CODES: Record<string, string> = {
  SELF_SIGNED_CERT_IN_CHAIN: "the engine's certificate is not signed by the CA configured for it",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the engine's certificate is self-signed and not the configured CA",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the engine's certificate is not signed by the CA configured for it",
  ERR_TLS_CERT_ALTNAME_INVALID: "the engine's certificate is for another host name",
  CERT_HAS_EXPIRED: "the engine's certificate has expired",
};

/** A Docker error for people: TLS failures say which side of the handshake is wrong. */
export function engineErrorMessage(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const base = dockerMessage(err);
  if (typeof code === 'string' && TLS_CODES[code]) return `TLS: ${TLS_CODES[code]} (${base})`;
  if (/alert (bad certificate|unknown ca|certificate required)/i.test(base)) return `TLS: the engine refused Kiln's client certificate (${base})`;
  return base;
}

interface DialOptions {
  path: string;
  isStream?: boolean;
  hijack?: boolean;
  abortSignal?: AbortSignal;
}

/** Aborts every short call after `ms` (see the header for which calls are long). */
export function withCallTimeouts(docker: Dockerode, ms: number): void {
  const modem = docker.modem as unknown as { dial(options: DialOptions, cb: (err: unknown, data: unknown) => void): void };
  const dial = modem.dial.bind(modem);
  modem.dial = (options, cb) => {
    if (options.abortSignal || options.isStream || options.hijack || LONG_CALL.test(options.path)) return dial(options, cb);
    const signal = AbortSignal.timeout(ms);
    return dial({ ...options, abortSignal: signal }, (err, data) => {
      if (err && signal.aborted) cb(Object.assign(new Error(`the Docker engine did not answer ${options.path.replace(/\?.*$/, '')} within ${ms / 1000} s`), { code: 'ETIMEDOUT' }), data);
      else cb(err, data);
    });
  };
}
