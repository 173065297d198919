/**
 * `needs.<job>.result` under the server and under `kiln run`: one pipeline, both runners, the same
 * values in env and the same `if:` decisions (both build the needs context with one function).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startEngine, type EngineFixture } from '../engine/engine-fixture.js';

const PIPELINE = `name: results
jobs:
  b:
    image: ${TEST_IMAGE}
    steps: [{ run: 'exit 1' }]
  m:
    image: ${TEST_IMAGE}
    matrix: { n: [1, 2] }
    steps: [{ run: 'test \${{ matrix.n }} = 1' }]
  c:
    image: ${TEST_IMAGE}
    needs: [b, m]
    if: failure()
    env: { R: '\${{ needs.b.result }}', M: '\${{ needs.m.result }}' }
    steps: [{ name: Show, run: 'echo "b result=$R m result=$M"' }]
  d:
    image: ${TEST_IMAGE}
    needs: [b]
    if: always() && needs.b.result == 'failure'
    steps: [{ run: 'echo d ran' }]
  e:
    image: ${TEST_IMAGE}
    needs: [b]
    if: always() && needs.b.result == 'success'
    steps: [{ run: 'echo e ran' }]
`;
const EXPECTED = { c: 'passed', d: 'passed', e: 'skipped' };

let f: EngineFixture | undefined;
let dir: string | undefined;
beforeAll(() => ensureBuilt());
afterEach(async () => {
  await f?.close();
  f = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('needs.<job>.result', () => {
  it('under the server: fills env and decides if: from the needs\' results (a matrix need: its worst instance)', async () => {
    f = await startEngine();
    const repo = f.repos[0];
    const sha = repo.commit(PIPELINE);
    const { runIds } = await f.engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', sha, ref: 'refs/heads/main' });
    const run = await f.waitForRun(runIds[0], undefined, 120_000);
    const status = Object.fromEntries(run.jobs.filter((j) => j.name in EXPECTED).map((j) => [j.name, j.status]));
    expect(status).toEqual(EXPECTED);
    const c = run.jobs.find((j) => j.name === 'c');
    const log = (await f.engine.getLog(c?.id ?? '', 0)).lines.map((l) => l.text);
    expect(log).toContain('b result=failure m result=failure');
  });

  it('under kiln run: the same values and the same decisions', () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-needs-'));
    writeFileSync(join(dir, '.kiln.yml'), PIPELINE);
    const r = spawnSync(process.execPath, [resolve('bin/kiln.js'), 'run'], { cwd: dir, encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') } });
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain('[c › Show] b result=failure m result=failure\n');
    for (const [job, s] of Object.entries(EXPECTED)) expect(r.stdout).toMatch(new RegExp(`\\n${job}\\s+${s}\\s`));
  });
});
