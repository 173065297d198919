/**
 * Log lines are numbered once, by the engine's log store: the seqs the store gives, the lines the
 * live events carry and the steps' logOffsets (where the log viewer starts each step) agree.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LogLine } from '../../shared/model/run.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startEngine, type EngineFixture } from './engine-fixture.js';

let f: EngineFixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

const PIPELINE = `name: numbered
on:
  push: { branches: [main] }
jobs:
  build:
    image: ${TEST_IMAGE}
    steps:
      - name: first
        run: echo one; echo two
      - name: second
        run: echo three >&2
`;

describe("a job's log", () => {
  it("numbers lines in the store only: live events carry the stored seqs and each step's logOffset is its header line", async () => {
    f = await startEngine();
    const repo = f.repos[0];
    const sha = repo.commit(PIPELINE);
    const outcome = await f.engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', sha, ref: 'refs/heads/main' });
    const run = await f.waitForRun(outcome.runIds[0]);
    expect(run.status).toBe('passed');
    const job = run.jobs[0];
    const stored = (await f.engine.getLog(job.id, 0)).lines;
    expect(stored.map((l) => l.seq)).toEqual(stored.map((_, i) => i));

    const published: LogLine[] = f.events.flatMap((e) => (e.type === 'log' && e.jobId === job.id ? e.lines : []));
    expect(published).toEqual(stored);

    expect(job.steps.map((s) => s.name)).toEqual(['first', 'second']);
    for (const s of job.steps) {
      expect(s.logOffset).toBeTypeOf('number');
      expect(stored[s.logOffset!]).toMatchObject({ stream: 'system', step: s.index, text: `step '${s.name}'` });
    }
    const second = job.steps[1].logOffset!;
    expect(stored.slice(job.steps[0].logOffset!, second).filter((l) => l.stream === 'stdout').map((l) => l.text)).toEqual(['one', 'two']);
    expect(stored.slice(second).filter((l) => l.stream === 'stderr').map((l) => l.text)).toEqual(['three']);
  });
});
