/**
 * Creates the dockerode client, loading it without its two heaviest dependencies until they are
 * really used: `ssh2` (only for DOCKER_HOST=ssh://…) and `@grpc/*` (only for BuildKit sessions,
 * which Kiln never opens). Loading them costs ~100 ms per process, a large share of a short
 * `kiln run`. Each is replaced in the CommonJS module cache by a stand-in that loads the real
 * module on first use, so behaviour is unchanged: an ssh:// engine still works.
 *
 * If dockerode was already loaded (another module imported it first), this changes nothing.
 */
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type Dockerode from 'dockerode';

const require = createRequire(import.meta.url);
let installed = false;

/** Puts `exports` in the module cache under the path `id` resolves to from `fromDir`; returns the real loader. */
function standIn(id: string, fromDir: string, make: (loadReal: () => Record<string, unknown>) => object): void {
  let path: string;
  try {
    path = require.resolve(id, { paths: [fromDir] });
  } catch {
    return; // not installed where dockerode looks for it: nothing to defer
  }
  if (require.cache[path]) return;
  let real: Record<string, unknown> | undefined;
  const loadReal = (): Record<string, unknown> => {
    if (!real) {
      delete require.cache[path];
      real = require(path) as Record<string, unknown>;
    }
    return real;
  };
  const m = new Module(path);
  m.filename = path;
  m.loaded = true;
  m.exports = make(loadReal);
  require.cache[path] = m;
}

function installStandIns(): void {
  if (installed) return;
  installed = true;
  let modemDir: string;
  let dockerodeDir: string;
  try {
    dockerodeDir = dirname(require.resolve('dockerode'));
    modemDir = dirname(require.resolve('docker-modem', { paths: [dockerodeDir] }));
  } catch {
    return;
  }
  // docker-modem reads `require('ssh2').Client` when it loads and calls `new Client()` only for ssh.
  standIn('ssh2', modemDir, (loadReal) => ({
    Client: function LazySshClient(...args: unknown[]) {
      const RealClient = loadReal().Client as new (...a: unknown[]) => object;
      return new RealClient(...args);
    },
  }));
  // dockerode's session.js keeps the module objects and touches them only inside its functions.
  for (const id of ['@grpc/grpc-js', '@grpc/proto-loader']) {
    standIn(id, dockerodeDir, (loadReal) => new Proxy({}, { get: (_t, key) => loadReal()[key as string], has: (_t, key) => key in loadReal() }));
  }
}

export function createDockerClient(options?: Dockerode.DockerOptions): Dockerode {
  installStandIns();
  const DockerodeClass = require('dockerode') as new (o?: Dockerode.DockerOptions) => Dockerode;
  return new DockerodeClass(options);
}
