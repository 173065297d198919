/**
 * What a job produced besides its lines, on the real engine and Docker: steps printing workflow
 * commands (`::group::`, `::error …::`) and appending Markdown to $KILN_SUMMARY; the engine stores
 * groups, annotations and summaries (SQLite) and answers them through getLogGroups and getRunRecords.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startEngine, type EngineFixture } from './engine-fixture.js';

const SECRET = 'sup3r-s3cret-value-97531';
/** A secret with a character a workflow command escapes (`%` → `%25`), as GitHub's toolkit prints it. */
const PCT_SECRET = 'p%ss-w0rd-8642';

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
  leaks:
    image: ${TEST_IMAGE}
    secrets: [API_KEY, PCT_KEY]
    outputs:
      url: \${{ steps.out.outputs.url }}
    steps:
      - id: out
        run: |
          echo "url=https://user:$API_KEY@example.com" >> "$KILN_OUTPUT"
          escaped=$(printf %s "$PCT_KEY" | sed 's/%/%25/g')
          echo "::error title=$escaped::escaped $escaped"
      - name: Straddle
        run: |
          head -c 1048569 /dev/zero | tr '\\0' x >> "$KILN_SUMMARY"
          printf '%s and more\\n' "$API_KEY" >> "$KILN_SUMMARY"
`;

describe('when steps print workflow commands and write $KILN_SUMMARY', () => {
  it('stores groups, annotations (Kiln\'s step failure once) and summaries, masked, and serves them', async () => {
    f = await startEngine({ configure: () => ({ secrets: { API_KEY: SECRET, PCT_KEY: PCT_SECRET } }) });
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
    expect(annotations.filter((a) => a.jobId === lint.id)).toEqual([
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

    // A secret straddling the summary's limit is masked before the cut: never its first bytes.
    const leaks = run.jobs.find((j) => j.name === 'leaks')!;
    expect(leaks.status).toBe('passed');
    const straddle = summaries.find((s) => s.jobId === leaks.id)!;
    expect(straddle).toMatchObject({ stepName: 'Straddle', bytes: 1048569 + SECRET.length + ' and more\n'.length });
    expect(Buffer.byteLength(straddle.markdown)).toBe(1024 * 1024);
    expect(straddle.markdown.slice(-10)).toBe('xxx*** and');
    // A secret printed escaped in a workflow command (unescaped after masking) is masked all the same.
    expect(annotations.filter((a) => a.jobId === leaks.id)).toEqual([
      { jobId: leaks.id, level: 'error', source: 'step', step: 0, seq: expect.any(Number) as number, title: '***', message: 'escaped ***' },
    ]);
    // The job's outputs are masked like its log, in the database too.
    const db = new Database(join(f.dataDir, 'kiln.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT name, value FROM job_outputs WHERE job_id = ?').all(leaks.id)).toEqual([{ name: 'url', value: 'https://user:***@example.com' }]);
    } finally {
      db.close();
    }
    const stored = JSON.stringify({ annotations, summaries, groups, log: (await f.engine.getLog(leaks.id, 0, 1000)).lines });
    for (const leaked of [SECRET.slice(0, 6), PCT_SECRET.slice(0, 4), 'p%25ss']) expect(stored).not.toContain(leaked);
  }, 120_000);
});
