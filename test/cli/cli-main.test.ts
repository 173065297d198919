import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string; bin: Record<string, string> };

describe('the kiln command', () => {
  beforeAll(() => ensureBuilt());

  it('is the package bin and prints its version', () => {
    expect(pkg.bin.kiln).toBe('bin/kiln.js');
    expect(execFileSync('node', ['bin/kiln.js', '--version'], { encoding: 'utf8' })).toBe(`kiln ${pkg.version}\n`);
  });

  it('lists its commands with --help', () => {
    const out = execFileSync('node', ['bin/kiln.js', '--help'], { encoding: 'utf8' });
    for (const command of ['validate', 'plan', 'run', 'serve']) expect(out).toContain(`kiln ${command}`);
  });

  it('rejects an unknown command with exit code 2 and the usage', () => {
    const r = spawnSync('node', ['bin/kiln.js', 'deploy'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'deploy'");
    expect(r.stderr).toContain('Usage: kiln');
  });
});
