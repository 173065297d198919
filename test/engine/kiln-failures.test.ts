/**
 * Kiln's own failures of a job, on the real engine, Docker and SQLite: a step's exit code, a step's
 * `timeout:`, the job's `timeout:`, a cancel through the API during a step, and a job that fails
 * before any step (an image that cannot be pulled, a service that dies before it is healthy). Each
 * is said once: one log line, and one annotation that links to it and carries the job's error.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { LogLine } from '../../shared/model/run.js';
import { TEST_HEALTHY_IMAGE, TEST_IMAGE } from '../helpers/test-image.js';
import { startEngine, type EngineFixture } from './engine-fixture.js';

let f: EngineFixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

/** A loopback port nothing listens on: a registry there refuses at once (no network needed). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const failures = (registryPort: number) => `name: failures
on: { manual: true }
jobs:
  exit-code:
    image: ${TEST_IMAGE}
    steps:
      - name: Lint
        run: exit 3
  step-timeout:
    image: ${TEST_IMAGE}
    steps:
      - name: Hang
        timeout: 1s
        run: sleep 30
  job-timeout:
    image: ${TEST_IMAGE}
    # After another job, so that its bring-up is not one of five at once: the timer runs from the
    # job's start, and a busy machine may take seconds to bring a job up.
    needs: [exit-code]
    if: always()
    timeout: 10s
    steps:
      - name: Forever
        run: sleep 30
  pull-failure:
    image: 127.0.0.1:${registryPort}/kiln-test/nowhere:1
    steps:
      - run: echo never
  service-down:
    image: ${TEST_IMAGE}
    services:
      db: { image: ${TEST_HEALTHY_IMAGE}, command: [sh, -c, 'echo database crashed; exit 4'] }
    steps:
      - run: echo never
`;

const CANCELLED = `name: cancelled
on: { manual: true }
jobs:
  long:
    image: ${TEST_IMAGE}
    steps:
      - name: Forever
        run: sleep 30
`;

/** The job's lines matching `about`, and Kiln's annotations of the job. */
async function saidAbout(fx: EngineFixture, runId: string, jobId: string, about: RegExp) {
  const log: LogLine[] = (await fx.engine.getLog(jobId, 0, 1000)).lines;
  const { annotations } = await fx.engine.getRunRecords(runId);
  return {
    lines: log.filter((l) => about.test(l.text)),
    annotations: annotations.filter((a) => a.jobId === jobId && a.source === 'kiln'),
    all: log.map((l) => l.text).join('\n'),
  };
}

describe('when a job fails by its step, its timeouts or before any step', () => {
  it('says each failure once: one log line and one annotation linked to it, and the job\'s error is that sentence', async () => {
    const port = await closedPort();
    f = await startEngine({ concurrency: { jobs: 5, perRepository: 5 } });
    const repo = f.repos[0];
    repo.commit(failures(port), 'failures');
    const { runIds: [runId] } = await f.engine.triggerRun({ repo: repo.name, branch: 'main' });
    const run = await f.waitForRun(runId, undefined, 120_000);
    const byName = Object.fromEntries(run.jobs.map((j) => [j.name, j]));
    const image = `127.0.0.1:${port}/kiln-test/nowhere:1`;

    const cases: Array<{ job: string; status: string; about: RegExp; message: RegExp; step: number | null }> = [
      { job: 'exit-code', status: 'failed', about: /exit code/, message: /^step 'Lint' failed with exit code 3$/, step: 0 },
      { job: 'step-timeout', status: 'timed_out', about: /timed out/, message: /^step 'Hang' timed out after 1 s$/, step: 0 },
      // Where the timer found the job is its to say (normally the step; bring-up, on a machine slow enough).
      { job: 'job-timeout', status: 'timed_out', about: /timed out/, message: /^job timed out after 10 s (during step 'Forever'|while [a-z ]+)$/, step: null },
      { job: 'pull-failure', status: 'failed', about: /could not be pulled/, message: new RegExp(`^image '${image.replace(/\./g, '\\.')}' not found locally and could not be pulled from 127\\.0\\.0\\.1:${port}: .*connection refused`, 'i'), step: null },
      { job: 'service-down', status: 'failed', about: /exited with code/, message: /^service 'db' \(kiln-test\/busybox-healthy:1\) exited with code 4 before the job started$/, step: null },
    ];
    for (const c of cases) {
      const job = byName[c.job];
      const said = await saidAbout(f, runId, job.id, c.about);
      expect(job.status, `${c.job}:\n${said.all}`).toBe(c.status);
      expect(said.lines, `${c.job}: lines about it:\n${said.all}`).toHaveLength(1);
      expect(said.annotations, `${c.job}: Kiln's annotations`).toHaveLength(1);
      const [line] = said.lines;
      const [annotation] = said.annotations;
      expect(annotation.message, c.job).toMatch(c.message);
      expect(line.text.replace(/^error: /, ''), c.job).toBe(annotation.message);
      expect(annotation, c.job).toMatchObject({ level: 'error', step: c.step, seq: line.seq });
      expect(job.error, c.job).toBe(annotation.message);
    }
    // What the step printed after its timer fired is still its own: the timeout line came first.
    const hang = await saidAbout(f, runId, byName['step-timeout'].id, /SIGTERM/);
    expect(hang.lines).toHaveLength(1);
    expect(hang.lines[0].text).toBe("sending SIGTERM to the step's processes (SIGKILL in 10 s)");
  }, 180_000);
});

describe('when a run is cancelled through the API during a step', () => {
  it('says the cancel once: one log line and one warning annotation naming the step', async () => {
    f = await startEngine();
    const repo = f.repos[0];
    repo.commit(CANCELLED, 'cancel me');
    const { runIds: [runId] } = await f.engine.triggerRun({ repo: repo.name, branch: 'main' });
    const fx = f;
    const running = await fx.waitFor(async () => (await fx.engine.getRun(runId)).jobs.find((j) => j.steps[0]?.status === 'running'), 60_000, 'the step to run');
    await fx.engine.cancelRun(runId);
    const run = await fx.waitForRun(runId);
    expect(run.status).toBe('cancelled');
    const job = run.jobs.find((j) => j.id === running.id)!;
    expect(job.status).toBe('cancelled');
    expect(job.steps[0].status).toBe('cancelled');

    const said = await saidAbout(fx, runId, job.id, /cancel/i);
    expect(said.lines, said.all).toHaveLength(1);
    expect(said.lines[0].text).toBe("job cancelled during step 'Forever'");
    expect(said.annotations).toEqual([
      { jobId: job.id, level: 'warning', source: 'kiln', step: null, seq: said.lines[0].seq, message: "job cancelled during step 'Forever'" },
    ]);
    expect(job.error).toBe("job cancelled during step 'Forever'");
  }, 120_000);
});
