/**
 * Test reports that do not fit: a job whose JUnit file holds more cases than the database has room
 * for, on a data directory of 12 MB. The job goes on (reports are not its result), its log says
 * "disk full", the guard hears it, and no part of the report is left half-stored.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { pipeline, startOnSmallDisk, type SmallDiskEngine } from './full-disk-fixture.js';

let k: SmallDiskEngine | undefined;
afterEach(async () => {
  await k?.close();
  k = undefined;
});

// 40 000 failing cases with a 900-character message each: some 40 MB of rows, written as it is parsed.
const BIG_JUNIT = `awk 'BEGIN { m = sprintf("%900s", ""); gsub(/ /, "x", m); print "<testsuite name=\\"big\\">"; for (i = 0; i < 40000; i++) printf "<testcase classname=\\"c\\" name=\\"t%d\\"><failure message=\\"%s\\"/></testcase>\\n", i, m; print "</testsuite>" }' > junit.xml`;

describe('when the test reports of a job do not fit in the database', () => {
  it("passes the job with 'warning: disk full: the test reports were not stored', tells the guard, and keeps no part of the report", async () => {
    k = await startOnSmallDisk({ size: '12m' });
    const id = await k.push(pipeline(`  test:
    image: ${TEST_IMAGE}
    reports: { junit: [junit.xml] }
    steps:
      - name: Test
        run: |
          ${BIG_JUNIT}
`));
    const run = await k.finished(id);
    expect(run.status, run.jobs[0].error).toBe('passed');
    const log = (await k.engine.getLog(run.jobs[0].id, 0, 500)).lines.map((l) => l.text);
    expect(log).toContainEqual(expect.stringMatching(/^warning: disk full: the test reports were not stored \(.*(database or disk is full|ENOSPC|SQLITE_FULL).*\)$/));
    expect((await k.engine.health()).disk?.lastFull?.what).toBe(`the test reports of job ${run.jobs[0].id}`);
    const report = await k.engine.getTestReport(id);
    expect(report.files).toEqual([]);
    await k.healthy();
  });
});
