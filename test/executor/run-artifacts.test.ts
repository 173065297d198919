import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobDirName, LocalArtifacts } from '../../src-main/cli/run-artifacts.js';
import { harness, job, run, step, type Harness } from './executor-helpers.js';

// kiln run's artifact copy (src-main/cli/run-artifacts.ts) against a real container, where the CLI
// cannot reach: the per-job limit, and `when:`.
describe('copying a job\'s artifacts for kiln run', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it('fails the job over the per-job limit with the server\'s message and keeps none of its files', async () => {
    const planned = job([step('mkdir -p out && head -c 100 /dev/zero > out/a && head -c 100 /dev/zero > out/b && head -c 100 /dev/zero > out/c')], {
      id: 'big', name: 'big', artifacts: { paths: ['out/**'], when: 'on_success' },
    });
    const artifacts = new LocalArtifacts({ dir: join(h.dir, 'art'), jobs: [planned], maxJobBytes: 250 });
    const got = await run(h, planned, { hooks: artifacts.hooksFor(planned).after });
    expect(got.result.status).toBe('failed');
    expect(got.all()).toMatch(/error: artifacts exceed the per-job limit of 250 B \(at out\/c\); upload stopped, narrow the artifact patterns/);
    const jobDir = join(h.dir, 'art', 'big', 'out');
    expect(existsSync(jobDir) ? readdirSync(jobDir) : []).toEqual([]);
    expect(artifacts.lines([planned], () => 'failed')).toEqual([
      'artifacts of big: none (artifacts exceed the per-job limit of 250 B (at out/c); upload stopped, narrow the artifact patterns)',
    ]);
  });

  it('copies a file whose name starts with two dots, and gives jobs whose names differ only in case directories of their own', async () => {
    const upper = job([step('echo upper > ..notes')], { id: 'Build', name: 'Build', artifacts: { paths: ['..notes'], when: 'always' } });
    const lower = job([step('echo lower > ..notes')], { id: 'build', name: 'build', artifacts: { paths: ['..notes'], when: 'always' } });
    const artifacts = new LocalArtifacts({ dir: join(h.dir, 'art'), jobs: [upper, lower] });
    for (const planned of [upper, lower]) expect((await run(h, planned, { hooks: artifacts.hooksFor(planned).after })).result.status).toBe('passed');
    const dirs = readdirSync(join(h.dir, 'art')).sort();
    expect(dirs.map((d) => d.toLowerCase())).toEqual(['build', 'build-2']);
    const contents = dirs.map((d) => readFileSync(join(h.dir, 'art', d, '..notes'), 'utf8').trim()).sort();
    expect(contents).toEqual(['lower', 'upper']);
  });

  it('copies nothing when when: does not match the outcome, and says why', async () => {
    const planned = job([step('echo x > out.txt; exit 1')], { id: 'red', name: 'red', artifacts: { paths: ['out.txt'], when: 'on_success' } });
    const artifacts = new LocalArtifacts({ dir: join(h.dir, 'art'), jobs: [planned] });
    const got = await run(h, planned, { hooks: artifacts.hooksFor(planned).after });
    expect(got.result.status).toBe('failed');
    expect(existsSync(join(h.dir, 'art', 'red'))).toBe(false);
    expect(artifacts.lines([planned], () => 'failed')).toEqual(['artifacts of red: none (when: on_success, and the job failed)']);
  });
});

describe('the end-of-run line of a job that never got to its artifacts', () => {
  it('says it was skipped, cancelled or timed out, and is absent for a job without artifacts', () => {
    const jobs = ['a', 'b', 'c'].map((id) => job([step('true')], { id, name: id, artifacts: { paths: ['x'], when: 'always' } }));
    const artifacts = new LocalArtifacts({ dir: '/nowhere', jobs: [...jobs, job([step('true')], { id: 'plain', name: 'plain' })] });
    const status = { a: 'skipped', b: 'cancelled', c: 'timed_out', plain: 'passed' } as const;
    expect(artifacts.lines([...jobs], (id) => status[id as keyof typeof status])).toEqual([
      'artifacts of a: none (the job was skipped)',
      'artifacts of b: none (the job was cancelled before they were collected)',
      'artifacts of c: none (the job timed out before they were collected)',
    ]);
  });
});

describe('a job\'s directory name', () => {
  it.each([
    ['build', 'build'],
    ['test (node=20, os=bookworm)', 'test-node-20-os-bookworm'],
    ['..', 'job'],
    ['a/../b', 'a-..-b'],
    ['(x)', 'x'],
  ])('%s → %s', (id, name) => {
    expect(jobDirName(id)).toBe(name);
  });
});
