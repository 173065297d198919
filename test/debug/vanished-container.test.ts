/**
 * A kept container that vanishes underneath — removed by hand while a terminal is open into it, or
 * stopped (as a Docker restart leaves it) with no terminal open — ends debugging at once: the
 * terminal says the container is gone, the job ends failed with the reason in its log, and its
 * concurrency slot is free again, long before the deadline. Real engine, Docker, HTTP/WebSocket.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { startEngine, type EngineFixture } from '../engine/engine-fixture.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { openTerminal } from './terminal-client.js';

const PIPELINE = `name: vanish
on:
  manual: true
jobs:
  build:
    image: ${TEST_IMAGE}
    steps:
      - name: Break
        run: exit 3
`;

function jobContainer(runId: string): string {
  return execFileSync('docker', ['ps', '-aq', '--filter', `label=kiln.run=${runId}`, '--filter', 'label=kiln.role=job'], { encoding: 'utf8' }).trim();
}

describe('a kept container that vanishes underneath', () => {
  let kiln: EngineFixture;
  let server: RunningServer;
  const termUrl = (id: string): string => `${server.url.replace('http', 'ws')}/api/jobs/${encodeURIComponent(id)}/terminal`;

  /** A run with debug whose failed job is kept; resolves with its ids once it is. */
  async function keptRun(): Promise<{ runId: string; jobId: string }> {
    const [runId] = (await kiln.engine.triggerRun({ repo: 'acme/web', branch: 'main', debug: true })).runIds;
    const kept = await kiln.waitFor(async () => (await kiln.engine.listKeptJobs()).find((k) => k.runId === runId), 90_000, 'the failed job to be kept');
    return { runId, jobId: kept.jobId };
  }

  async function logText(jobId: string): Promise<string> {
    return (await kiln.engine.getLog(jobId, 0, 1000)).lines.map((l) => l.text).join('\n');
  }

  beforeAll(async () => {
    // An hour to the deadline: only the vanishing can end these jobs within the test.
    kiln = await startEngine({ options: { debug: { keepMs: 60 * 60_000, checkMs: 500 }, onError: () => undefined } });
    kiln.repos[0].commit(PIPELINE);
    server = await startServer({ engine: kiln.engine, port: 0 });
  });

  afterAll(async () => {
    await server?.close();
    await kiln?.close();
  });

  it('tells the open terminal the container is gone, ends the job failed and frees its slot when it is removed by hand', async () => {
    const { runId, jobId } = await keptRun();
    expect((await kiln.engine.health()).queue.running).toBe(1);
    const t = await openTerminal(termUrl(jobId));
    t.type('echo "up-$((2+2))"\n');
    await t.waitFor('up-4');
    execFileSync('docker', ['rm', '-f', jobContainer(runId)], { stdio: 'ignore' });
    await new Promise<void>((r) => { if (t.ws.readyState === t.ws.CLOSED) r(); else t.ws.once('close', () => r()); });
    const gone = t.controls().find((c) => c.type === 'gone');
    expect(gone?.message).toMatch(/no longer exists.*debugging ended, the job is recorded failed/);
    expect(t.controls().some((c) => c.type === 'exit')).toBe(false);
    expect(await kiln.engine.listKeptJobs()).toEqual([]);
    const run = await kiln.waitForRun(runId, undefined, 30_000);
    expect(run.status).toBe('failed');
    expect(run.jobs[0].status).toBe('failed');
    expect((await kiln.engine.health()).queue.running).toBe(0);
    expect(await logText(jobId)).toMatch(/\[kiln\] the kept container [0-9a-f]{12} no longer exists/);
    // A terminal opened afterwards is refused: the job is no longer kept.
    expect(await openTerminal(termUrl(jobId)).catch((e: unknown) => e)).toMatchObject({ status: 409 });
  });

  it('notices a kept container that stopped with no terminal open, well before the deadline', async () => {
    const { runId, jobId } = await keptRun();
    execFileSync('docker', ['stop', '-t', '0', jobContainer(runId)], { stdio: 'ignore' });
    const run = await kiln.waitForRun(runId, undefined, 15_000);
    expect(run.status).toBe('failed');
    expect(await kiln.engine.listKeptJobs()).toEqual([]);
    expect((await kiln.engine.health()).queue.running).toBe(0);
    expect(await logText(jobId)).toMatch(/stopped \(Docker restarted, or it was stopped by hand\): debugging ended/);
    // Torn down as at the deadline: the stopped container is removed too.
    await kiln.waitFor(() => jobContainer(runId) === '' || undefined, 15_000, 'the stopped container to be removed');
  });

  it('still says only that the shell exited when the container stays up', async () => {
    const { runId, jobId } = await keptRun();
    const t = await openTerminal(termUrl(jobId));
    t.type('exit 5\n');
    await new Promise<void>((r) => t.ws.once('close', () => r()));
    expect(t.controls()).toContainEqual({ type: 'exit', code: 5 });
    expect((await kiln.engine.listKeptJobs()).map((k) => k.jobId)).toEqual([jobId]);
    expect(jobContainer(runId)).not.toBe('');
    await kiln.engine.endDebug(jobId);
  });
});
