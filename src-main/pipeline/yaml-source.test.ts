import { afterEach, describe, expect, it } from 'vitest';
import { readYaml } from './yaml-source.js';

describe('readYaml and the patched yaml package', () => {
  const realEnv = process.env;
  afterEach(() => {
    process.env = realEnv;
  });

  // yaml 2.x looked up process.env.LOG_TOKENS for every token, which cost about a third of parsing a
  // large pipeline; patches/yaml+*.patch reads it once at load (as yaml 3 does). This fails if
  // `npm ci` did not apply the patch (postinstall: patch-package).
  it('does not read process.env while parsing', () => {
    const reads: string[] = [];
    process.env = new Proxy(realEnv, {
      get(target, key, receiver) {
        if (typeof key === 'string') reads.push(key);
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const text = 'jobs:\n' + Array.from({ length: 20 }, (_, i) => `  job-${i}:\n    image: alpine\n    steps: [{ run: echo ${i} }]\n`).join('');
    const { source, diagnostics } = readYaml(text, '.kiln.yml');
    expect(diagnostics).toEqual([]);
    expect(Object.keys((source.data as { jobs: object }).jobs)).toHaveLength(20);
    expect(reads).toEqual([]);
  });
});
