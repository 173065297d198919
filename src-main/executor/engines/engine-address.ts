/**
 * Where a Docker engine is and how to speak to it, and which engine Kiln uses when kiln.config.yml
 * lists none: the one the `docker` command would use. People run Docker Desktop, Colima, OrbStack,
 * Rancher Desktop or Podman, whose sockets live in odd places and are chosen with `docker context
 * use`; reading the same files the CLI reads makes all of them work with no Kiln setting.
 *
 * The CLI's order, followed here: DOCKER_HOST (with DOCKER_TLS_VERIFY / DOCKER_CERT_PATH); else the
 * context named by DOCKER_CONTEXT or by `currentContext` in ~/.docker/config.json (DOCKER_CONFIG
 * moves that folder), its endpoint in contexts/meta/<sha256(name)>/meta.json and its TLS material in
 * contexts/tls/<sha256(name)>/docker/; else the platform's default socket. Every source consulted
 * is recorded in `tried`, so "nothing answers" can name them.
 *
 * Pure apart from reading those small files synchronously (once per start).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** PEM text of a TLS client setup (kept in memory; the vault stores it for configured engines). */
export interface EngineTls {
  ca?: string;
  cert?: string;
  key?: string;
  /** The context's SkipTLSVerify / DOCKER_TLS_VERIFY unset: encrypt without checking the server. */
  skipVerify?: boolean;
}

export interface EngineEndpoint {
  /** Shown everywhere: the configured name, the context's name, or 'local'. */
  name: string;
  /** unix:///path, tcp://host:port, ssh://user@host[:port], npipe:////./pipe/name */
  address: string;
  tls?: EngineTls;
  /** The private key for ssh:// (PEM text, in memory only). */
  sshKey?: string;
  /** For ssh://: the host key fingerprint (`SHA256:…`) to accept instead of the known_hosts files. */
  hostKey?: string;
  /** For ssh://: the known_hosts files to read (default: those `ssh` reads; tests point elsewhere). */
  knownHostsFiles?: string[];
  /** For ssh://: the user's ssh config (default ~/.ssh/config; tests point elsewhere). */
  sshConfigFile?: string;
  /** Why this engine: "DOCKER_HOST", "docker context 'colima'", "the default socket", "kiln.config.yml". */
  source: string;
}

export interface DiscoveredEngine {
  endpoint: EngineEndpoint;
  /** What was consulted, in order, with what it said ("DOCKER_HOST unset", …). */
  tried: string[];
}

export interface DiscoveryInput {
  env: Record<string, string | undefined>;
  home: string;
  platform: NodeJS.Platform;
}

export const DEFAULT_SOCKET = { linux: 'unix:///var/run/docker.sock', win32: 'npipe:////./pipe/docker_engine' } as const;

function defaultAddress(platform: NodeJS.Platform): string {
  return platform === 'win32' ? DEFAULT_SOCKET.win32 : DEFAULT_SOCKET.linux;
}

function readPem(dir: string, file: string): string | undefined {
  const path = join(dir, file);
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/** The engine the `docker` command would use. Never throws: a broken context file is reported in `tried` and skipped. */
export function discoverEngine(input: DiscoveryInput): DiscoveredEngine {
  const { env, home, platform } = input;
  const tried: string[] = [];
  const host = env.DOCKER_HOST?.trim();
  if (host) {
    const tls = envTls(env, home);
    return { endpoint: { name: 'local', address: host, tls, source: 'DOCKER_HOST' }, tried: [`DOCKER_HOST=${host}`] };
  }
  tried.push('DOCKER_HOST unset');
  const configDir = env.DOCKER_CONFIG?.trim() || join(home, '.docker');
  const fromContext = contextEndpoint(configDir, env.DOCKER_CONTEXT?.trim(), tried);
  if (fromContext) return { endpoint: fromContext, tried };
  const address = defaultAddress(platform);
  tried.push(`the default socket ${address}`);
  return { endpoint: { name: 'local', address, source: 'the default socket' }, tried };
}

/** DOCKER_TLS_VERIFY / DOCKER_CERT_PATH as the CLI reads them (certificates in ~/.docker by default). */
function envTls(env: Record<string, string | undefined>, home: string): EngineTls | undefined {
  const verify = env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '' && env.DOCKER_TLS_VERIFY !== '0';
  if (!verify && !env.DOCKER_CERT_PATH) return undefined;
  const dir = env.DOCKER_CERT_PATH || join(home, '.docker');
  return { ca: readPem(dir, 'ca.pem'), cert: readPem(dir, 'cert.pem'), key: readPem(dir, 'key.pem'), skipVerify: !verify };
}

function contextEndpoint(configDir: string, fromEnv: string | undefined, tried: string[]): EngineEndpoint | undefined {
  let name = fromEnv;
  let why = 'DOCKER_CONTEXT';
  if (!name) {
    const configFile = join(configDir, 'config.json');
    if (!existsSync(configFile)) {
      tried.push(`no ${configFile}`);
      return undefined;
    }
    try {
      const parsed = JSON.parse(readFileSync(configFile, 'utf8')) as { currentContext?: unknown };
      name = typeof parsed.currentContext === 'string' ? parsed.currentContext : undefined;
    } catch (err) {
      tried.push(`${configFile} unreadable (${err instanceof Error ? err.message : String(err)})`);
      return undefined;
    }
    why = `currentContext in ${configFile}`;
    if (!name) {
      tried.push(`no currentContext in ${configFile}`);
      return undefined;
    }
  }
  if (name === 'default') {
    tried.push(`docker context 'default' (${why}) is the default socket`);
    return undefined;
  }
  const id = createHash('sha256').update(name).digest('hex');
  const metaFile = join(configDir, 'contexts', 'meta', id, 'meta.json');
  let endpoint: { Host?: unknown; SkipTLSVerify?: unknown } | undefined;
  try {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as { Endpoints?: { docker?: { Host?: unknown; SkipTLSVerify?: unknown } } };
    endpoint = meta.Endpoints?.docker;
  } catch (err) {
    tried.push(`docker context '${name}' (${why}): ${metaFile} unreadable (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
    return undefined;
  }
  if (typeof endpoint?.Host !== 'string' || endpoint.Host === '') {
    tried.push(`docker context '${name}' (${why}) has no docker endpoint`);
    return undefined;
  }
  const tlsDir = join(configDir, 'contexts', 'tls', id, 'docker');
  const tls: EngineTls = { ca: readPem(tlsDir, 'ca.pem'), cert: readPem(tlsDir, 'cert.pem'), key: readPem(tlsDir, 'key.pem'), skipVerify: endpoint.SkipTLSVerify === true };
  const hasTls = tls.ca !== undefined || tls.cert !== undefined || tls.skipVerify;
  tried.push(`docker context '${name}' (${why}) → ${endpoint.Host}`);
  return { name, address: endpoint.Host, tls: hasTls ? tls : undefined, source: `docker context '${name}'` };
}

/** The engine the `docker` command would use in this process's environment. */
export function discoverLocalEngine(env: Record<string, string | undefined> = process.env, home = env.HOME ?? env.USERPROFILE ?? ''): DiscoveredEngine {
  return discoverEngine({ env, home, platform: process.platform });
}

/** One line for "which engine and why": `local (unix:///var/run/docker.sock, the default socket)`. */
export function describeEndpoint(e: Pick<EngineEndpoint, 'name' | 'address' | 'source'>): string {
  return `${e.name} (${e.address}, from ${e.source})`;
}
