/**
 * GitHub's workflow commands that change what a job's log holds, on the real engine, Docker and
 * HTTP: a value a step masks with `::add-mask::` is `***` from the next line on — in the stored log,
 * in the engine's live log events and in the dashboard's SSE log stream alike, in later steps, in
 * annotations and summaries; `::debug::` lines appear only with KILN_STEP_DEBUG=true; between
 * `::stop-commands::TOKEN` and `::TOKEN::` nothing is a command.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LogLine } from '../../shared/model/run.js';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { readSse } from '../http/helpers/sse-client.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startEngine, type EngineFixture } from './engine-fixture.js';

let f: EngineFixture | undefined;
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await f?.close();
  f = undefined;
});

const PIPELINE = `name: commands
on: { manual: true }
jobs:
  mask:
    image: ${TEST_IMAGE}
    steps:
      - name: Wait for the stream
        run: |
          echo ready
          sleep 3
      - name: Log in
        run: |
          echo "hunter2 is not masked before the command"
          echo "::add-mask::hunter2"
          echo "token hunter2 accepted"
          echo "::debug::not shown without step debug"
          echo "::stop-commands::pause-7f3a"
          echo "::error::hunter2 inside stop-commands is no annotation"
          echo "::pause-7f3a::"
          echo "::warning::expires soon: hunter2"
          echo "summary hunter2" >> "$KILN_SUMMARY"
      - name: Later step
        run: echo hunter2
  debug:
    image: ${TEST_IMAGE}
    env: { KILN_STEP_DEBUG: "true" }
    steps:
      - run: echo "::debug::cache key abc"
`;

const texts = (lines: readonly LogLine[]): string[] => lines.filter((l) => l.stream !== 'system').map((l) => l.text);

describe('when a step prints ::add-mask::, ::debug:: and ::stop-commands::', () => {
  it('masks the added value from the next line on, live and stored, hides debug lines unless asked, and pauses commands', async () => {
    f = await startEngine();
    server = await startServer({ engine: f.engine, port: 0 });
    const repo = f.repos[0];
    repo.commit(PIPELINE, 'commands');
    const { runIds: [runId] } = await f.engine.triggerRun({ repo: repo.name, branch: 'main' });
    const fx = f;
    const maskJob = await fx.waitFor(async () => (await fx.engine.getRun(runId)).jobs.find((j) => j.name === 'mask'), 30_000, 'the mask job');
    // Follow the dashboard's stream while the job runs: the first step waits for it.
    await fx.waitFor(async () => (await fx.engine.getLog(maskJob.id, 0, 100)).lines.some((l) => l.text === 'ready') || undefined, 60_000, "the line 'ready'");
    const beforeStream = (await fx.engine.getLog(maskJob.id, 0, 1000)).lines.length;
    const sse = await readSse(`${server.url}/api/jobs/${maskJob.id}/log/stream`);
    const run = await fx.waitForRun(runId, undefined, 120_000);
    await sse.waitFor((e) => e.some((x) => x.event === 'end'), 'the end of the stream', 30_000);
    sse.close();

    expect(run.jobs.map((j) => j.status)).toEqual(['passed', 'passed']);
    const expected = [
      'ready',
      'hunter2 is not masked before the command',
      '::add-mask::***',
      'token *** accepted',
      '::stop-commands::pause-7f3a',
      '::error::*** inside stop-commands is no annotation',
      '::pause-7f3a::',
      '::warning::expires soon: ***',
      '***',
    ];
    const stored = (await fx.engine.getLog(maskJob.id, 0, 1000)).lines;
    expect(texts(stored)).toEqual(expected);
    const streamed = sse.events.filter((e) => !e.event).map((e) => JSON.parse(e.data) as LogLine);
    expect(texts(streamed)).toEqual(expected);
    const published = fx.events.flatMap((e) => (e.type === 'log' && e.jobId === maskJob.id ? e.lines : []));
    expect(texts(published)).toEqual(expected);
    // The stream was open before the command: the masked lines reached it live, not from storage.
    expect(streamed.find((l) => l.text === '::add-mask::***')!.seq).toBeGreaterThanOrEqual(beforeStream);

    const { annotations, summaries } = await fx.engine.getRunRecords(runId);
    expect(annotations.filter((a) => a.source === 'step').map((a) => `${a.level}: ${a.message}`)).toEqual(['warning: expires soon: ***']);
    expect(summaries.find((s) => s.jobId === maskJob.id)?.markdown).toContain('summary ***');
    expect(JSON.stringify({ stored, annotations, summaries }).split('hunter2')).toHaveLength(2); // only the line before the command

    const debugJob = run.jobs.find((j) => j.name === 'debug')!;
    expect(texts((await fx.engine.getLog(debugJob.id, 0, 100)).lines)).toEqual(['::debug::cache key abc']);
  }, 180_000);
});
