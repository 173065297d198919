/**
 * What a job produced besides its lines, on the real engine and Docker: steps printing workflow
 * commands (`::group::`, `::error …::`) and appending Markdown to $KILN_SUMMARY; the engine stores
 * groups, annotations and summaries (SQLite) and answers them through getLogGroups and getRunRecords.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startEngine, type EngineFixture } from './engine-fixture.js';

const SECRET = 'sup3r-s3cret-value-97531';

let f: EngineFixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

const PIPELINE = `name: records
on: { manual: true }
jobs:
  lint:
    image: ${TEST_IMAGE}
    secrets: [API_KEY]
    steps:
      - name: Install
        run: |
          echo "::group::Fetch packages"
          echo "fetching a"
          echo "::group::Nested"
          echo "inner"
          echo "::endgroup::"
          echo "fetching b"
          echo "::endgroup::"
          echo "::group::Left open"
          echo "never closed"
      - name: Report
        run: |
          echo "## Lint report" >> "$KILN_SUMMARY"
          echo "" >> "$KILN_SUMMARY"
          echo "| file | problems |" >> "$KILN_SUMMARY"
          echo "| --- | --- |" >> "$KILN_SUMMARY"
          echo "| src/app.ts | 1 |" >> "$KILN_SUMMARY"
          echo "key: $API_KEY" >> "$KILN_SUMMARY"
          echo "::warning file=src/util.ts,line=7,col=2::Prefer const"
          echo "::error file=src/app.ts,line=12,col=5,title=Type error::Type 'string' is not assignable to 'number' ($API_KEY)" >&2
      - name: Lint
        run: exit 1
  big-summary:
    image: ${TEST_IMAGE}
    steps:
      - name: Huge
        run: awk 'BEGIN { for (i = 0; i < 30000; i++) printf "line %05d of a summary far too long for one step............\\n", i }' >> "$KILN_SUMMARY"
`;

describe('when steps print workflow commands and write $KILN_SUMMARY', () => {
  it('stores groups, annotations (Kiln\'s step failure once) and summaries, masked, and serves them', async () => {
    f = await startEngine({ configure: () => ({ secrets: { API_KEY: SECRET } }) });
    const repo = f.repos[0];
    repo.commit(PIPELINE, 'records');
    const { runIds: [runId] } = await f.engine.triggerRun({ repo: repo.name, branch: 'main' });
    const run = await f.waitForRun(runId);
    const lint = run.jobs.find((j) => j.name === 'lint')!;
    expect(lint.status).toBe('failed');

    const log = (await f.engine.getLog(lint.id, 0, 1000)).lines;
    const seqOf = (text: string): number => log.find((l) => l.text === text)!.seq;

    // Groups: nested, closed by their markers; one left open is closed where its step ended.
    const groups = await f.engine.getLogGroups(lint.id);
    expect(groups).toEqual([
      { start: seqOf('::group::Fetch packages'), end: seqOf('fetching b') + 1, endMarker: true, depth: 0, step: 0, title: 'Fetch packages' },
      { start: seqOf('::group::Nested'), end: seqOf('inner') + 1, endMarker: true, depth: 1, step: 0, title: 'Nested' },
      { start: seqOf('::group::Left open'), end: seqOf('never closed') + 1, endMarker: false, depth: 0, step: 0, title: 'Left open' },
    ]);
    expect(log[seqOf('fetching b') + 1].text).toBe('::endgroup::');
    // Only what changed from a seq on (a live viewer's refresh).
    expect((await f.engine.getLogGroups(lint.id, seqOf('::group::Left open'))).map((g) => g.title)).toEqual(['Left open']);

    // The step failure is said once in the log, and once among the annotations.
    expect(log.filter((l) => l.text.includes("step 'Lint' failed with exit code 1"))).toHaveLength(1);
    const { annotations, summaries } = await f.engine.getRunRecords(runId);
    expect(annotations).toEqual([
      {
        jobId: lint.id, level: 'error', source: 'step', step: 1, seq: log.find((l) => l.text.startsWith('::error'))!.seq,
        title: 'Type error', file: 'src/app.ts', line: 12, col: 5, message: "Type 'string' is not assignable to 'number' (***)",
      },
      { jobId: lint.id, level: 'error', source: 'kiln', step: 2, seq: seqOf("step 'Lint' failed with exit code 1"), message: "step 'Lint' failed with exit code 1" },
      { jobId: lint.id, level: 'warning', source: 'step', step: 1, seq: seqOf('::warning file=src/util.ts,line=7,col=2::Prefer const'), file: 'src/util.ts', line: 7, col: 2, message: 'Prefer const' },
    ]);

    // Summaries: masked, whole when small; cut at the step limit with a note when not.
    const report = summaries.find((s) => s.jobId === lint.id)!;
    expect(report).toMatchObject({ step: 1, stepName: 'Report' });
    expect(report.markdown).toContain('| src/app.ts | 1 |');
    expect(report.markdown).toContain('key: ***');
    expect(JSON.stringify({ annotations, summaries, groups })).not.toContain(SECRET);
    expect(report.truncated).toBeUndefined();
    const big = summaries.find((s) => s.jobId === run.jobs.find((j) => j.name === 'big-summary')!.id)!;
    expect(big.bytes).toBeGreaterThan(1024 * 1024);
    expect(Buffer.byteLength(big.markdown)).toBeLessThanOrEqual(1024 * 1024);
    expect(big.truncated).toMatch(/only its first 1 MiB are shown \(the limit per step\)/);
  }, 120_000);
});
