/**
 * `kiln run` names the engine it uses and why, and `--engine` picks one: an address, a name under
 * engines: in ./kiln.config.yml, or a Docker context (here a real one made with docker context create).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { startExtraEngine, type ExtraEngine } from '../helpers/second-engine.js';
import { TEST_IMAGE } from '../helpers/test-image.js';

const KILN = resolve('bin/kiln.js');
let engine: ExtraEngine;
let dir: string;
let home: string;

beforeAll(async () => {
  ensureBuilt();
  engine = await startExtraEngine('cli');
  dir = mkdtempSync(join(tmpdir(), 'kiln-run-engine-'));
  home = join(dir, 'home');
  mkdirSync(join(dir, 'certs'), { recursive: true });
  for (const k of ['ca', 'cert', 'key'] as const) writeFileSync(join(dir, 'certs', `${k}.pem`), engine.tls[k]);
  writeFileSync(join(dir, '.kiln.yml'), `name: where\njobs:\n  info:\n    image: ${TEST_IMAGE}\n    steps: [{ name: Say, run: echo on the engine }]\n`);
}, 120_000);
afterAll(async () => {
  await engine?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function kiln(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [KILN, 'run', ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, HOME: home, DOCKER_HOST: '', DOCKER_CONTEXT: '', XDG_CACHE_HOME: join(dir, 'cache'), ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('kiln run and its engine', () => {
  it('runs on the current Docker context and says so', () => {
    const docker = (args: string[]) => execFileSync('docker', args, { env: { ...process.env, HOME: home, DOCKER_HOST: '', DOCKER_CONTEXT: '' }, stdio: 'ignore' });
    docker(['context', 'create', 'build-box', '--docker', `host=${engine.address},ca=${dir}/certs/ca.pem,cert=${dir}/certs/cert.pem,key=${dir}/certs/key.pem`]);
    docker(['context', 'use', 'build-box']);
    const r = kiln([]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`(1 job) on the Docker engine build-box (${engine.address}, from docker context 'build-box')\n`);
    expect(r.stdout).toContain('[info › Say] on the engine\n');
    docker(['context', 'use', 'default']);
  });

  it('takes --engine as an address', () => {
    const r = kiln(['--engine', `unix://${engine.socket}`]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`on the Docker engine unix://${engine.socket} (unix://${engine.socket}, from --engine)\n`);
  });

  it('takes --engine as a name under engines: in ./kiln.config.yml, with its TLS files', () => {
    writeFileSync(join(dir, 'kiln.config.yml'), `engines:\n  - name: tls-box\n    address: ${engine.address}\n    tls: { ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem }\n`);
    try {
      const r = kiln(['--engine', 'tls-box']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`on the Docker engine tls-box (${engine.address}, from engines: in kiln.config.yml)\n`);
    } finally {
      rmSync(join(dir, 'kiln.config.yml'));
    }
  });

  it('refuses an engine name it cannot find, naming where it looked, with exit 2', () => {
    const r = kiln(['--engine', 'nowhere']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kiln run: --engine 'nowhere' is neither an address \(unix:\/\/\/path, tcp:\/\/host:2376, ssh:\/\/user@host\) nor a known engine; looked in the Docker contexts/m);
  });
});
