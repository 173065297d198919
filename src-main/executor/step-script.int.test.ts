import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exportLines } from './step-script.js';

/** Sources the file in `shell` as the debug shell does, then prints the environment; stderr joined. */
function source(shell: string[], file: string, dir: string): string {
  return execFileSync(shell[0], [...shell.slice(1), '-c', '. "$1" && echo SOURCED && env', 'kiln-test', file], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
}

describe('the debug environment file', () => {
  let dir: string | undefined;
  afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  const env = {
    GOOD: "it's $HOME `x` \\ \n two lines",
    'spring.profiles.active': 'dev',
    'X;touch pwned-by-name': 'y',
    'Z=$(touch pwned-by-value)': 'z',
    '\u001b[31mRED': 'r',
  };

  it.each([['dash', ['sh']], ['busybox sh', ['busybox', 'sh']]])('sources in %s without stopping or running a key, exporting shell names exactly', (_name, shell) => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-debug-env-'));
    const file = join(dir, 'debug-env');
    writeFileSync(file, exportLines(env));
    const out = execFileSync(shell[0], [...shell.slice(1), '-c', '. "$1" 2>&1 && echo SOURCED && printf "%s" "$GOOD" > good.txt', 'kiln-test', file], { cwd: dir, encoding: 'utf8' });
    expect(out).toContain('SOURCED');
    expect(execFileSync('cat', [join(dir, 'good.txt')], { encoding: 'utf8' })).toBe(env.GOOD);
    expect(existsSync(join(dir, 'pwned-by-name'))).toBe(false);
    expect(existsSync(join(dir, 'pwned-by-value'))).toBe(false);
    expect(out.split('\n').filter((l) => l.startsWith('kiln:'))).toEqual([
      "kiln: not in this shell's environment (names a shell cannot hold): spring.profiles.active, X;touch pwned-by-name, Z=$(touch pwned-by-value), ?[31mRED",
    ]);
    expect(source(shell, file, dir)).toContain('GOOD=');
  });

  it('holds no line for a key that is not a shell name, and no note when every key is one', () => {
    expect(exportLines({ A: '1', _b2: "x'y" })).toBe("export A='1'\nexport _b2='x'\\''y'\n");
    const text = exportLines({ 'a.b': 'secret-value' });
    expect(text).not.toContain('export');
    expect(text).not.toContain('secret-value');
  });
});
