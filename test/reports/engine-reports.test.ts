/**
 * Test reports and the timing view through the real engine and real Docker jobs: a job writes JUnit
 * XML, the engine collects it after the steps (a failing job's report too), the API answers the
 * Tests tab and the timing view, and a test that failed on a push and passed when the same commit
 * was run again by hand shows up as flaky.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDetail } from '../../shared/model/run.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startEngine, type EngineFixture } from '../engine/engine-fixture.js';

// `checkout` fails on a push and passes when run by hand: the same commit, failed then passed.
const PIPELINE = `name: shop
on:
  push: { branches: [main] }
jobs:
  unit:
    image: ${TEST_IMAGE}
    reports: { junit: ['results/**/*.xml'] }
    steps:
      - name: Test
        run: |
          mkdir -p results/unit
          if [ "$KILN_EVENT" = push ]; then
            outcome='<failure message="expected 3 items, got 2">AssertionError: expected 3 items, got 2</failure>'
          fi
          cat > results/unit/junit.xml <<EOF
          <?xml version="1.0"?>
          <testsuite name="cart">
            <testcase classname="cart" name="adds an item" time="0.5"/>
            <testcase classname="cart" name="checkout" time="1.25">$outcome</testcase>
          </testsuite>
          EOF
          echo '<testsuite><testcase name="x">' > results/broken.xml
          [ "$KILN_EVENT" != push ]
`;

describe('a job that declares reports, run by the engine on Docker', () => {
  let f: EngineFixture;
  let failed: RunDetail;
  let passed: RunDetail;

  beforeAll(async () => {
    f = await startEngine();
    const repo = f.repos[0];
    const sha = repo.commit(PIPELINE, 'add the shop pipeline');
    const pushed = await f.engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', sha, ref: 'refs/heads/main' });
    failed = await f.waitForRun(pushed.runIds[0]);
    const manual = await f.engine.triggerRun({ repo: repo.name, branch: 'main', sha });
    passed = await f.waitForRun(manual.runIds[0]);
  }, 180_000);
  afterAll(async () => {
    await f?.close();
  });

  it('collects the failing job’s report: totals, the failure with its message, the malformed file named', async () => {
    expect(failed.status).toBe('failed');
    const report = await f.engine.getTestReport(failed.id);
    expect(report.totals).toMatchObject({ tests: 2, passed: 1, failed: 1, durationMs: 1750 });
    expect(report.failures).toEqual([expect.objectContaining({ name: 'checkout', message: 'expected 3 items, got 2', output: 'AssertionError: expected 3 items, got 2' })]);
    expect(report.files.map((x) => [x.file, x.problem])).toEqual([
      ['results/broken.xml', expect.stringMatching(/^results\/broken\.xml:2:0: unclosed tag: testcase/)],
      ['results/unit/junit.xml', undefined],
    ]);
    const log = await f.engine.getLog(failed.jobs[0].id, 0);
    const text = log.lines.map((l) => l.text);
    expect(text).toContain('test reports: 1 file, 2 tests: 1 failed');
    expect(text.some((t) => t.startsWith('warning: test report results/broken.xml:'))).toBe(true);
    expect(failed.jobs[0].error).toBe("step 'Test' failed with exit code 1");
  });

  it('marks the test that failed on the push and passed when the same commit ran again as flaky', async () => {
    expect(passed.status).toBe('passed');
    const report = await f.engine.getTestReport(passed.id, 'check');
    expect(report.failures).toEqual([]);
    expect(report.matches?.map((c) => [c.name, c.status])).toEqual([['checkout', 'passed']]);
    expect(report.flaky).toEqual([expect.objectContaining({ job: 'unit', name: 'checkout', failedRunNumber: 1, passedRunNumber: 2, sha: passed.sha })]);
  });

  it('lays the job out on a time axis: queued, setting up, steps, after the steps, tearing down, in order', async () => {
    const timing = await f.engine.getRunTiming(failed.id);
    const [job] = timing.jobs;
    expect(job.segments.map((s) => s.phase)).toEqual(['queued', 'setting_up', 'steps', 'after_steps', 'tearing_down']);
    for (const [i, s] of job.segments.entries()) {
      expect(s.end).toBeGreaterThanOrEqual(s.start);
      if (i > 0) expect(s.start).toBe(job.segments[i - 1].end);
    }
    expect(job.segments[0].start).toBeGreaterThanOrEqual(timing.createdAt);
    expect(job.steps).toEqual([expect.objectContaining({ index: 0, name: 'Test', status: 'failed' })]);
    const steps = job.segments.find((s) => s.phase === 'steps')!;
    expect(job.steps[0].start).toBeGreaterThanOrEqual(steps.start);
    await expect(f.engine.getRunTiming('no-such-run')).rejects.toThrow("run 'no-such-run' does not exist");
    await expect(f.engine.getTestReport('no-such-run')).rejects.toThrow("run 'no-such-run' does not exist");
  });
});
