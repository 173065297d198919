/**
 * Test report collection from a real container into a real SQLite file: the artifact path rules
 * (links never followed, patterns refused), a malformed file that fails nothing else, a retry that
 * replaces, the Tests tab's queries (failures first, slowest, search) and flaky tests across runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTar, type TarEntry } from '../../src-main/executor/archive.js';
import { TestReportStore } from '../../src-main/storage/test-report-store.js';
import { logSink, startContainer, tempDataDir, type TestContainer } from '../storage/storage-container.js';
import { seedRun } from './seed-runs.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const fixture = (path: string): Buffer => readFileSync(join(FIXTURES, path));
const file = (name: string, content: string | Buffer): TarEntry => ({ name, mode: 0o644, content: Buffer.from(content) });

function junit(cases: Array<[name: string, outcome: 'pass' | 'fail', seconds?: number]>): string {
  const body = cases.map(([name, outcome, s]) =>
    `<testcase classname="shop.Cart" name="${name}" time="${s ?? 0.01}">${outcome === 'fail' ? `<failure message="${name} broke">trace of ${name}</failure>` : ''}</testcase>`).join('\n');
  return `<?xml version="1.0"?>\n<testsuite name="shop">\n${body}\n</testsuite>\n`;
}

describe('collecting test reports from a job container', () => {
  let data: ReturnType<typeof tempDataDir>;
  let box: TestContainer;
  let store: TestReportStore;
  const put = (entries: TarEntry[]) => box.putArchive('/workspace', Readable.from(makeTar(entries)));

  beforeEach(async () => {
    data = tempDataDir();
    box = await startContainer();
    store = new TestReportStore(data.db, { now: () => 5_000 });
    seedRun(data.db, { id: 'r1', number: 1, jobs: [{ id: 'j1', planId: 'test' }] });
  });
  afterEach(async () => {
    await box.remove();
    data.cleanup();
  });

  it('stores the good files and names the malformed one with its line, failing nothing', async () => {
    await put([
      { name: 'build/', mode: 0o755 },
      file('build/TEST-surefire.MyTest.xml', fixture('surefire/TEST-surefire.MyTest.xml')),
      file('build/TEST-jest.xml', fixture('jest/jest-junit.xml')),
      file('build/TEST-cut.xml', fixture('pytest/corrupt-xml.xml')),
    ]);
    const { lines, log } = logSink();
    const files = await store.collect({ container: box, runId: 'r1', jobId: 'j1', patterns: ['build/TEST-*.xml'], log });
    expect(files.map((f) => [f.file, f.tests, f.problem])).toEqual([
      ['build/TEST-cut.xml', 0, 'build/TEST-cut.xml:11:21: unclosed tag: skipped'],
      ['build/TEST-jest.xml', 6, undefined],
      ['build/TEST-surefire.MyTest.xml', 1, undefined],
    ]);
    expect(lines).toEqual([
      'warning: test report build/TEST-cut.xml:11:21: unclosed tag: skipped (the report is skipped; nothing else fails)',
      'test reports: 2 files, 7 tests: 4 failed, 1 errored, 1 skipped',
    ]);
    const report = store.report('r1');
    expect(report.totals).toMatchObject({ tests: 7, passed: 1, failed: 4, errored: 1, skipped: 1 });
    expect(report.files.find((f) => f.problem)?.file).toBe('build/TEST-cut.xml');
  });

  it('never follows a symlink to a file outside the workspace, and refuses absolute and .. patterns', async () => {
    await box.sh('mkdir -p out && printf "<testsuite><testcase name=\\"x\\"/></testsuite>" > /junit-outside.xml && ln -s /junit-outside.xml out/junit-link.xml');
    await put([{ name: 'out/', mode: 0o755 }, file('out/junit-real.xml', junit([['adds', 'pass']]))]);
    const { lines, log } = logSink();
    const files = await store.collect({ container: box, runId: 'r1', jobId: 'j1', patterns: ['out/junit-*.xml', '/junit-outside.xml', '../junit-outside.xml'], log });
    expect(files.map((f) => f.file)).toEqual(['out/junit-real.xml']);
    expect(lines).toEqual([
      "warning: test report pattern '/junit-outside.xml' refused: it is absolute: report patterns are relative to the workspace",
      "warning: test report pattern '../junit-outside.xml' refused: it contains '..': report patterns cannot leave the workspace",
      'warning: test report out/junit-link.xml skipped: it is a symlink, and links are not followed',
      'test reports: 1 file, 1 test, all passed',
    ]);
  });

  it('says so when no file matches, and a retry of the job replaces what the earlier attempt stored', async () => {
    const { lines, log } = logSink();
    expect(await store.collect({ container: box, runId: 'r1', jobId: 'j1', patterns: ['nothing/*.xml'], log })).toEqual([]);
    expect(lines).toEqual(["test reports: no files match 'nothing/*.xml'"]);
    await put([file('junit.xml', junit([['a', 'fail'], ['b', 'pass']]))]);
    await store.collect({ container: box, runId: 'r1', jobId: 'j1', patterns: ['junit.xml'], log });
    await put([file('junit.xml', junit([['a', 'pass'], ['b', 'pass'], ['c', 'pass']]))]);
    await store.collect({ container: box, runId: 'r1', jobId: 'j1', patterns: ['junit.xml'], log });
    expect(store.report('r1').totals).toMatchObject({ tests: 3, passed: 3, failed: 0 });
    expect(store.report('r1').failures).toEqual([]);
  });

  it('stores nothing for an attempt that no longer holds its job, keeping what the job\'s current attempt stored', async () => {
    const { log } = logSink();
    await put([file('junit.xml', junit([['a', 'pass'], ['b', 'pass'], ['c', 'pass']]))]);
    await store.collect({ container: box, runId: 'r1', jobId: 'j1', patterns: ['junit.xml'], log, current: () => true });
    // A stale attempt (its engine was lost, the job ran again) reads its own report afterwards.
    await put([file('junit.xml', junit([['a', 'fail'], ['d', 'fail']]))]);
    await store.collect({ container: box, runId: 'r1', jobId: 'j1', patterns: ['junit.xml'], log, current: () => false });
    expect(store.report('r1').totals).toMatchObject({ tests: 3, passed: 3, failed: 0 });
    // One that loses the job while its file is read stores no more of it.
    let asked = 0;
    const cases = Array.from({ length: 2500 }, (_, i): [string, 'fail'] => [`t${i}`, 'fail']);
    await put([file('big-junit.xml', junit(cases))]);
    await store.collect({ container: box, runId: 'r1', jobId: 'j1', patterns: ['big-junit.xml'], log, current: () => ++asked <= 1 });
    expect(asked).toBeGreaterThan(1);
    expect(store.report('r1').files.map((f) => f.file)).not.toContain('big-junit.xml');
  });

  it('skips files past the per-job byte limit with a reason, keeping the ones before it', async () => {
    const a = junit([['a', 'pass']]);
    const small = new TestReportStore(data.db, { maxJobBytes: a.length + 10 });
    await put([file('a-junit.xml', a), file('b-junit.xml', junit([['b', 'pass']]))]);
    const files = await small.collect({ container: box, runId: 'r1', jobId: 'j1', patterns: ['*-junit.xml'], log: () => {} });
    // Which one comes first is the engine's archive order; one is read, the other refused.
    const [read, refused] = [files.filter((f) => !f.problem), files.filter((f) => f.problem)];
    expect(read.map((f) => f.tests)).toEqual([1]);
    expect(refused.map((f) => [f.tests, f.problem])).toEqual([[0, `${refused[0]?.file}: not read: the job's report files exceed ${a.length + 10} B`]]);
  });

  it('lists failures first with their output, the slowest cases, and the cases matching a search', async () => {
    await put([file('junit.xml', junit([['adds', 'pass', 0.2], ['totals', 'fail', 3.5], ['discount_100%', 'pass', 9], ['ships', 'pass', 0.01]]))]);
    await store.collect({ container: box, runId: 'r1', jobId: 'j1', patterns: ['junit.xml'], log: () => {} });
    const report = store.report('r1', '100%');
    expect(report.failures).toEqual([{
      jobId: 'j1', file: 'junit.xml', suite: 'shop', classname: 'shop.Cart', name: 'totals', status: 'failed', durationMs: 3500, message: 'totals broke', output: 'trace of totals',
    }]);
    expect(report.slowest.map((c) => c.name)).toEqual(['discount_100%', 'totals', 'adds', 'ships']);
    expect(report.matches?.map((c) => c.name)).toEqual(['discount_100%']);
    expect(store.report('r1', 'SHIPS').matches?.map((c) => c.name)).toEqual(['ships']);
    expect(store.report('r1').matches).toBeUndefined();
  });

  it('records a test that failed and then passed on the same commit of the branch as flaky, and only that', async () => {
    seedRun(data.db, { id: 'r2', number: 2, createdAt: Date.now() + 1, jobs: [{ id: 'j2', planId: 'test' }] });
    seedRun(data.db, { id: 'r3', number: 3, sha: 'b'.repeat(40), createdAt: Date.now() + 2, jobs: [{ id: 'j3', planId: 'test' }] });
    seedRun(data.db, { id: 'r4', number: 4, branch: 'feature', createdAt: Date.now() + 3, jobs: [{ id: 'j4', planId: 'test' }] });
    const collect = async (runId: string, jobId: string, xml: string) => {
      await put([file('junit.xml', xml)]);
      await store.collect({ container: box, runId, jobId, patterns: ['junit.xml'], log: () => {} });
    };
    await collect('r1', 'j1', junit([['adds', 'fail'], ['ships', 'fail'], ['totals', 'pass']]));
    await collect('r2', 'j2', junit([['adds', 'pass'], ['ships', 'fail'], ['totals', 'pass']]));
    // Another commit: a pass there says nothing about the first commit's failures.
    await collect('r3', 'j3', junit([['ships', 'pass']]));
    expect(store.report('r2').flaky).toEqual([{
      job: 'test', classname: 'shop.Cart', name: 'adds', sha: 'a'.repeat(40), failedRunId: 'r1', failedRunNumber: 1, passedRunId: 'r2', passedRunNumber: 2, at: 5_000,
    }]);
    // The Tests tab of any run of the branch shows it; another branch has its own list.
    expect(store.report('r3').flaky.map((f) => f.name)).toEqual(['adds']);
    expect(store.report('r4').flaky).toEqual([]);
  });
});
