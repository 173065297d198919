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


  it('lists its commands with --help, -h and help on stdout, with exit code 0', () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = spawnSync('node', ['bin/kiln.js', ...args], { encoding: 'utf8' });
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stdout).toContain('Usage: kiln <command>');
      expect(r.stderr).toBe('');
    }
  });

  it('prints the usage on stderr with exit code 2 when given no command', () => {
    const r = spawnSync('node', ['bin/kiln.js'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Usage: kiln <command>');
  });

  it('answers a mistyped command with one line naming the command it is closest to, with exit code 2', () => {
    const cases: [string, string][] = [
      ['serv', 'kiln: unknown command "serv" — did you mean "serve"? (kiln --help lists the commands)\n'],
      ['valdiate', 'kiln: unknown command "valdiate" — did you mean "validate"? (kiln --help lists the commands)\n'],
      ['rn', 'kiln: unknown command "rn" — did you mean "run"? (kiln --help lists the commands)\n'],
      ['--hlep', 'kiln: unknown option "--hlep" — did you mean "--help"? (kiln --help lists the commands)\n'],
    ];
    for (const [word, line] of cases) {
      const r = spawnSync('node', ['bin/kiln.js', word, '--repo', '.'], { encoding: 'utf8' });
      expect(r.status, word).toBe(2);
      expect(r.stderr).toBe(line);
      expect(r.stdout).toBe('');
    }
  });

  it('answers a command close to none with one line and no suggestion, and never a stack trace', () => {
    for (const word of ['foo', 'deploy', 'toString', 'constructor', '__proto__']) {
      const r = spawnSync('node', ['bin/kiln.js', word], { encoding: 'utf8' });
      expect(r.status, word).toBe(2);
      expect(r.stderr).toBe(`kiln: unknown command "${word}" (kiln --help lists the commands)\n`);
    }
  });

  it('prints a command\'s usage for kiln help COMMAND, and the one line for an unknown one', () => {
    const run = spawnSync('node', ['bin/kiln.js', 'help', 'validate'], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Usage: kiln validate');
    const typo = spawnSync('node', ['bin/kiln.js', 'help', 'pln'], { encoding: 'utf8' });
    expect(typo.status).toBe(2);
    expect(typo.stderr).toBe('kiln: unknown command "pln" — did you mean "plan"? (kiln --help lists the commands)\n');
  });
});
