/**
 * JUnit reports written fresh by the tools themselves — Vitest's junit reporter, Node's test
 * runner's junit reporter, pytest's --junitxml (Debian's python3-pytest) — each over a tiny suite
 * with a pass, a failure and a skip, put into a real container's workspace and collected from it
 * into a real SQLite file, exactly as after a job.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar } from '../../src-main/executor/archive.js';
import { TestReportStore } from '../../src-main/storage/test-report-store.js';
import { logSink, startContainer, tempDataDir, type TestContainer } from '../storage/storage-container.js';
import { seedRun } from './seed-runs.js';

/** pytest is a precondition of this suite: installed here with apt-get when missing (as .ci/run does). */
function ensurePytest(): void {
  if (spawnSync('python3', ['-m', 'pytest', '--version']).status === 0) return;
  execFileSync('apt-get', ['install', '-y', '-qq', 'python3-pytest'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (spawnSync('python3', ['-m', 'pytest', '--version']).status !== 0) throw new Error('python3-pytest is needed: apt-get install python3-pytest');
}

/** Runs a test tool that is expected to fail (one test fails on purpose) and returns the report it wrote. */
function runTool(cmd: string, args: string[], cwd: string, report: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, CI: '1', NO_COLOR: '1', FORCE_COLOR: '0' }, timeout: 120_000 });
  expect(r.status, `${cmd} ${args.join(' ')}: ${r.stderr}`).toBe(1);
  return readFileSync(join(cwd, report), 'utf8');
}

describe('reports written by real test tools, collected from a real container', () => {
  let work: string;
  let data: ReturnType<typeof tempDataDir>;
  let box: TestContainer;
  const reports: Record<string, string> = {};

  beforeAll(async () => {
    ensurePytest();
    // Inside the checkout (git-ignored) so that the Vitest run resolves `vitest` from node_modules.
    mkdirSync(join(process.cwd(), 'test-output'), { recursive: true });
    work = mkdtempSync(join(process.cwd(), 'test-output', 'junit-tools-'));

    const vitestDir = join(work, 'vitest');
    mkdirSync(vitestDir);
    writeFileSync(join(vitestDir, 'vitest.config.mjs'), 'export default {};\n');
    writeFileSync(join(vitestDir, 'cart.test.mjs'), `import { describe, expect, it } from 'vitest';
describe('cart', () => {
  it('adds an item', () => expect([1].length).toBe(1));
  it('applies the discount', () => expect(100 * 0.9).toBe(80));
  it.skip('ships abroad', () => {});
});
`);
    reports.vitest = runTool('npx', ['vitest', 'run', '--root', '.', '--reporter=junit', '--outputFile=junit-vitest.xml'], vitestDir, 'junit-vitest.xml');

    const nodeDir = join(work, 'node');
    mkdirSync(nodeDir);
    writeFileSync(join(nodeDir, 'cart.test.mjs'), `import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
describe('cart', () => {
  it('adds an item', () => assert.equal([1].length, 1));
  it('applies the discount', () => assert.equal(100 * 0.9, 80));
  it('ships abroad', { skip: 'not yet' }, () => {});
});
`);
    reports.node = runTool('node', ['--test', '--test-reporter=junit', '--test-reporter-destination=junit-node.xml', 'cart.test.mjs'], nodeDir, 'junit-node.xml');

    const pyDir = join(work, 'py');
    mkdirSync(pyDir);
    writeFileSync(join(pyDir, 'test_cart.py'), `import pytest

@pytest.fixture
def broken():
    raise RuntimeError("database is down")

def test_adds_an_item():
    assert len([1]) == 1

def test_applies_the_discount():
    assert 100 * 0.9 == 80

def test_uses_the_database(broken):
    pass

@pytest.mark.skip(reason="not yet")
def test_ships_abroad():
    pass
`);
    reports.pytest = runTool('python3', ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', '--junitxml=junit-pytest.xml'], pyDir, 'junit-pytest.xml');

    data = tempDataDir();
    seedRun(data.db, { id: 'r1', jobs: [{ id: 'j1', planId: 'test' }] });
    box = await startContainer();
    await box.putArchive('/workspace', Readable.from(makeTar([
      { name: 'reports/', mode: 0o755 },
      { name: 'reports/junit-vitest.xml', mode: 0o644, content: Buffer.from(reports.vitest) },
      { name: 'reports/junit-node.xml', mode: 0o644, content: Buffer.from(reports.node) },
      { name: 'py/', mode: 0o755 },
      { name: 'py/junit-pytest.xml', mode: 0o644, content: Buffer.from(reports.pytest) },
    ])));
  }, 240_000);

  afterAll(async () => {
    await box?.remove();
    data?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('collects all three by glob and counts each tool’s pass, failure and skip', async () => {
    const store = new TestReportStore(data.db);
    const { lines, log } = logSink();
    const files = await store.collect({ container: box, runId: 'r1', jobId: 'j1', patterns: ['**/junit-*.xml'], log });
    expect(files.map((f) => [f.file, f.tests, f.passed, f.failed, f.errored, f.skipped, f.problem])).toEqual([
      ['py/junit-pytest.xml', 4, 1, 1, 1, 1, undefined],
      ['reports/junit-node.xml', 3, 1, 1, 0, 1, undefined],
      ['reports/junit-vitest.xml', 3, 1, 1, 0, 1, undefined],
    ]);
    expect(lines.at(-1)).toBe('test reports: 3 files, 10 tests: 3 failed, 1 errored, 3 skipped');
  });

  it('keeps each failure’s message and output as the tool wrote them', () => {
    const report = new TestReportStore(data.db).report('r1');
    const byFile = (f: string) => report.failures.filter((c) => c.file === f);
    const [vitest] = byFile('reports/junit-vitest.xml');
    expect(vitest).toMatchObject({ suite: 'cart.test.mjs', classname: 'cart.test.mjs', name: 'cart > applies the discount', status: 'failed' });
    expect(vitest.message).toMatch(/expected 90 to be 80/);
    const [node] = byFile('reports/junit-node.xml');
    expect(node).toMatchObject({ name: 'applies the discount', status: 'failed', suite: 'cart' });
    expect(node.output).toContain('cart.test.mjs');
    const pytest = byFile('py/junit-pytest.xml');
    expect(pytest.map((c) => [c.classname, c.name, c.status])).toEqual([
      ['test_cart', 'test_applies_the_discount', 'failed'],
      ['test_cart', 'test_uses_the_database', 'errored'],
    ]);
    expect(pytest[1].output).toContain('RuntimeError: database is down');
    expect(report.totals).toMatchObject({ tests: 10, passed: 3, failed: 3, errored: 1, skipped: 3 });
  });
});
