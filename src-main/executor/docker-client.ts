/**
 * Creates the dockerode client, loading it without the dependencies Kiln's hot path never uses
 * until they are really used: `ssh2` (only for DOCKER_HOST=ssh://…), `@grpc/*` and `uuid` (only
 * for BuildKit sessions), `tar-fs` (only for buildImage from a context directory), and docker-modem's `http_duplex` with its `readable-stream` (only for a non-hijacked
 * stream with stdin open). Loading dockerode with all of them costs ~45 ms per process, without
 * them ~25 ms: a visible share of a short `kiln run`. Each is replaced in the CommonJS module cache
 * by a stand-in that loads the real module on first use, so behaviour is unchanged: an ssh://
 * engine still works, buildImage still packs its context.
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
  // dockerode's session.js and util.js keep these module objects and touch them only inside their functions.
  for (const id of ['@grpc/grpc-js', '@grpc/proto-loader', 'tar-fs']) {
    standIn(id, dockerodeDir, (loadReal) => new Proxy({}, { get: (_t, key) => loadReal()[key as string], has: (_t, key) => key in loadReal() }));
  }
  // session.js reads `require('uuid').v4` when it loads.
  standIn('uuid', dockerodeDir, (loadReal) => ({ v4: (...args: unknown[]) => (loadReal().v4 as (...a: unknown[]) => string)(...args) }));
  // modem.js keeps the constructor and calls `new HttpDuplex(req, res)`; an object returned from a
  // constructor is what `new` yields, so callers get a real HttpDuplex.
  standIn('./http_duplex', modemDir, (loadReal) => function LazyHttpDuplex(...args: unknown[]) {
    const RealDuplex = loadReal() as unknown as new (...a: unknown[]) => object;
    return new RealDuplex(...args);
  });
}

export function createDockerClient(options?: Dockerode.DockerOptions): Dockerode {
  installStandIns();
  const DockerodeClass = require('dockerode') as new (o?: Dockerode.DockerOptions) => Dockerode;
  return new DockerodeClass(options);
}
