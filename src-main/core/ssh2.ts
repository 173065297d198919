/**
 * The ssh2 package, loaded as the copy docker-modem depends on (Kiln does not list ssh2 itself:
 * its SSH engines and docker-modem's must agree on one version). Loaded with require: ssh2 is
 * CommonJS, and Node's ESM loader cannot see its named exports in the built program.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type * as Ssh2 from 'ssh2';

const require = createRequire(import.meta.url);
let loaded: typeof Ssh2 | undefined;

export function ssh2(): typeof Ssh2 {
  if (!loaded) {
    const modemDir = dirname(require.resolve('docker-modem', { paths: [dirname(require.resolve('dockerode'))] }));
    loaded = require(require.resolve('ssh2', { paths: [modemDir] })) as typeof Ssh2;
  }
  return loaded;
}
