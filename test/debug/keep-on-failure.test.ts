/**
 * Debugging a failed job where it failed, against the real engine, real Docker and the real HTTP
 * server: a run started with debug keeps its failed job (container, workspace, the failing step's
 * environment with its $KILN_ENV additions, its service on the job network) until a deadline, and
 * the terminal WebSocket opens a shell in it. The security rules are checked on the same server.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { MAX_FRAME } from '../../src-main/http/terminal-frames.js';
import { HIGH_WATER } from '../../src-main/http/terminal-ws.js';
import { startEngine, type EngineFixture } from '../engine/engine-fixture.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { FAILING_PIPELINE } from './debug-fixture.js';
import { openTerminal } from './terminal-client.js';

const SECRET = 'hunter2-not-in-logs';

/** A job that is still running when a terminal is asked for (its run not started with debug). */
const SLOW_PIPELINE = `name: slow
on:
  manual: true
jobs:
  wait:
    image: ${TEST_IMAGE}
    steps:
      - run: sleep 120
`;

/** The roles and states of a run's containers (job, service), sorted. */
function containerState(runId: string): string[] {
  return execFileSync('docker', ['ps', '-a', '--filter', `label=kiln.run=${runId}`, '--format', '{{.Label "kiln.role"}}:{{.State}}'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}

describe('a failed job of a run started with debug', () => {
  let kiln: EngineFixture;
  let server: RunningServer;
  let runId: string;
  let jobId: string;
  const termUrl = (id: string, q = ''): string => `${server.url.replace('http', 'ws')}/api/jobs/${encodeURIComponent(id)}/terminal${q}`;

  beforeAll(async () => {
    kiln = await startEngine({ repos: ['acme/web', 'acme/slow'], configure: () => ({ secrets: { DEPLOY_TOKEN: SECRET } }), options: { debug: { keepMs: 90_000 }, onError: () => undefined } });
    kiln.repos[0].commit(FAILING_PIPELINE);
    kiln.repos[1].commit(SLOW_PIPELINE);
    server = await startServer({ engine: kiln.engine, port: 0 });
    [runId] = (await kiln.engine.triggerRun({ repo: 'acme/web', branch: 'main', debug: true })).runIds;
    const kept = await kiln.waitFor(async () => (await kiln.engine.listKeptJobs()).find((k) => k.runId === runId), 90_000, 'the failed job to be kept');
    jobId = kept.jobId;
  });

  afterAll(async () => {
    await server?.close();
    await kiln?.close();
  });

  it('stays up, marked waiting for debug, with its service, until a deadline about the keep time away', async () => {
    const [kept] = await kiln.engine.listKeptJobs();
    expect(kept).toMatchObject({ runId, jobId, step: { name: 'Break' }, state: 'held' });
    expect(kept.deadline - kept.keptAt).toBe(90_000);
    expect(containerState(runId)).toEqual(['job:running', 'service:running']);
    const run = await kiln.engine.getRun(runId);
    expect(run.jobs[0].status).toBe('running');
    expect(run.jobs[0].steps.map((s) => s.status)).toEqual(['passed', 'failed']);
    const log = (await kiln.engine.getLog(jobId, 0, 1000)).lines.map((l) => l.text).join('\n');
    expect(log).toContain('waiting for debug');
    expect(log).not.toContain(SECRET);
    expect((await kiln.engine.health()).queue.running).toBe(1);
  });

  it('opens a shell in the workspace with the failing step environment, its $KILN_ENV additions and the service by name', async () => {
    const t = await openTerminal(termUrl(jobId, '?cols=100&rows=30'));
    try {
      t.type('ls; pwd\n');
      await t.waitFor(/marker\.txt[\s\S]*\/workspace/);
      let from = t.output().length;
      t.type('echo "[$SOME_VAR|$PARTIAL|$KILN_JOB]"\n');
      await t.waitFor('[from-kiln-env|set-before-failing|build]', { from });
      from = t.output().length;
      t.type('wget -q -O /dev/null http://web:8080/ready && echo "svc-$((40+2))"\n');
      await t.waitFor('svc-42', { from });
      from = t.output().length;
      t.type('stty size\n');
      await t.waitFor('30 100', { from });
      t.resize(120, 40);
      await new Promise((r) => setTimeout(r, 300));
      from = t.output().length;
      t.type('stty size\n');
      await t.waitFor('40 120', { from });
    } finally {
      await t.close();
    }
  });

  it('writes nothing of the terminal to the job log or its live stream', async () => {
    const before = kiln.events.length;
    const t = await openTerminal(termUrl(jobId));
    try {
      t.type('echo "term-only-$((6*7))-marker"\n');
      await t.waitFor('term-only-42-marker');
    } finally {
      await t.close();
    }
    const log = (await kiln.engine.getLog(jobId, 0, 5000)).lines.map((l) => l.text).join('\n');
    expect(log).not.toContain('term-only');
    expect(JSON.stringify(kiln.events.slice(before))).not.toContain('term-only');
  });

  it('leaves the container running when the terminal closes, and opens again', async () => {
    await new Promise((r) => setTimeout(r, 300));
    expect(containerState(runId)).toEqual(['job:running', 'service:running']);
    const [a, b] = await Promise.all([openTerminal(termUrl(jobId)), openTerminal(termUrl(jobId))]);
    try {
      a.type('echo "a-$((1+1))"\n');
      b.type('echo "b-$((2+2))"\n');
      await Promise.all([a.waitFor('a-2'), b.waitFor('b-4')]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('exits the shell with exit and says so, the container staying up', async () => {
    const t = await openTerminal(termUrl(jobId));
    t.type('exit 7\n');
    await new Promise<void>((r) => t.ws.once('close', () => r()));
    expect(t.controls()).toContainEqual({ type: 'exit', code: 7 });
    expect(containerState(runId)).toEqual(['job:running', 'service:running']);
  });

  it('holds a flood back once the page is a window behind, and lets it through as the page acknowledges it', async () => {
    const t = await openTerminal(termUrl(jobId, '?flow=ack'));
    try {
      t.type('echo "ready-$((1+1))"\n');
      await t.waitFor('ready-2');
      let received = 0;
      t.ws.on('message', (data: Buffer, isBinary: boolean) => { if (isBinary) received += data.length; });
      const FLOOD = 3_000_000;
      t.type(`head -c ${FLOOD} /dev/zero | tr '\\0' y; echo "flood-$((6*7))"\n`);
      // Nothing acknowledged: the output stops at the window, however long the page takes (a
      // second with nothing more, looked at every 100 ms).
      let last = -1;
      let stillSince = Date.now();
      for (const settled = Date.now() + 30_000; Date.now() < settled;) {
        if (received !== last || received === 0) {
          last = received;
          stillSince = Date.now();
        } else if (Date.now() - stillSince >= 1000) {
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(received).toBeGreaterThan(HIGH_WATER);
      expect(received).toBeLessThan(HIGH_WATER + 2 * MAX_FRAME);
      expect(t.output()).not.toContain('flood-42');
      // Acknowledged as it arrives, it all goes through.
      let acked = 0;
      const deadline = Date.now() + 60_000;
      while (!t.output().includes('flood-42')) {
        if (Date.now() > deadline) throw new Error(`the flood stopped at ${received} bytes though all were acknowledged`);
        if (received > acked) {
          t.ws.send(JSON.stringify({ type: 'ack', bytes: received - acked }));
          acked = received;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(received).toBeGreaterThan(FLOOD);
    } finally {
      await t.close();
    }
  });

  it('re-runs the failed step in the same container, its output appended to the job log with secrets masked', async () => {
    const before = (await kiln.engine.getLog(jobId, 0, 5000)).nextOffset;
    expect(await kiln.engine.rerunFailedStep(jobId)).toEqual({ exitCode: 3 });
    const lines = (await kiln.engine.getLog(jobId, before, 1000)).lines;
    const text = lines.map((l) => l.text).join('\n');
    expect(text).toContain("re-running step 'Break'");
    expect(text).toContain('failing now');
    expect(text).toContain('token is ***');
    expect(text).not.toContain(SECRET);
    expect(lines.find((l) => l.text === 'failing now')?.step).toBe(1);
  });

  it('extends the deadline from the later of now and the old deadline', async () => {
    const [before] = await kiln.engine.listKeptJobs();
    const after = await kiln.engine.extendDebug(jobId, 10);
    expect(after.deadline).toBe(before.deadline + 10 * 60_000);
  });

  describe('refuses a terminal', () => {
    it('into a job that is not kept, with 409', async () => {
      const err = await openTerminal(termUrl('no-such-job')).catch((e: unknown) => e as { status: number; body: string });
      expect(err).toMatchObject({ status: 409 });
      expect((err as { body: string }).body).toContain('not kept for debugging');
      // The debug API tells an unknown job (404) from one not kept (409, below).
      await expect(kiln.engine.rerunFailedStep('no-such-job')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('into a running job of a run not started with debug, with 409', async () => {
      const [plain] = (await kiln.engine.triggerRun({ repo: 'acme/slow', branch: 'main' })).runIds;
      try {
        const live = await kiln.waitFor(async () => (await kiln.engine.getRun(plain)).jobs.find((j) => j.steps[0]?.status === 'running'), 60_000, 'the slow job to run');
        const err = await openTerminal(termUrl(live.id)).catch((e: unknown) => e as { status: number; body: string });
        expect(err).toMatchObject({ status: 409 });
        expect((err as { body: string }).body).toContain('not kept for debugging');
        await expect(kiln.engine.rerunFailedStep(live.id)).rejects.toMatchObject({ code: 'CONFLICT' });
      } finally {
        await kiln.engine.cancelRun(plain);
      }
    });

    it('from another origin, with 403', async () => {
      const err = await openTerminal(termUrl(jobId), { origin: 'https://evil.example' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 403 });
    });

    it('under a Host the server is not known by, with 421', async () => {
      const err = await openTerminal(termUrl(jobId), { headers: { host: 'rebind.example:80' } }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 421 });
    });

    it('from the desktop app page (file://) only with a one-time ticket for that job', async () => {
      const url = server.terminalUrl!(jobId);
      expect(url).toMatch(/\?ticket=[0-9a-f]{48}$/);
      const t = await openTerminal(url, { origin: 'file://' });
      t.type('echo "app-$((5*5))"\n');
      await t.waitFor('app-25');
      await t.close();
      // Used once: the same ticket again, no ticket, this job's ticket for another job.
      expect(await openTerminal(url, { origin: 'file://' }).catch((e: unknown) => e)).toMatchObject({ status: 403 });
      expect(await openTerminal(termUrl(jobId), { origin: 'file://' }).catch((e: unknown) => e)).toMatchObject({ status: 403 });
      const other = server.terminalUrl!(jobId).replace(`/jobs/${encodeURIComponent(jobId)}/`, '/jobs/another-job/');
      expect(await openTerminal(other, { origin: 'file://' }).catch((e: unknown) => e)).toMatchObject({ status: 403 });
      // No ticket at all for a job that is not kept.
      expect(() => server.terminalUrl!('another-job')).toThrow(/not kept for debugging/);
    });

    it('but accepts the dashboard own origin', async () => {
      const t = await openTerminal(termUrl(jobId), { origin: server.url });
      await t.close();
    });
  });

  it('ends debugging on request: the container, service and network go, the job ends failed', async () => {
    await kiln.engine.endDebug(jobId);
    const run = await kiln.waitForRun(runId);
    expect(run.status).toBe('failed');
    expect(run.jobs[0].status).toBe('failed');
    expect(containerState(runId)).toEqual([]);
    expect(await kiln.engine.listKeptJobs()).toEqual([]);
    const err = await openTerminal(termUrl(jobId)).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 409 });
  });

  it('is not kept when the run was not started with debug', async () => {
    const [plain] = (await kiln.engine.triggerRun({ repo: 'acme/web', branch: 'main' })).runIds;
    const run = await kiln.waitForRun(plain, undefined, 90_000);
    expect(run.status).toBe('failed');
    expect(containerState(plain)).toEqual([]);
    expect(await kiln.engine.listKeptJobs()).toEqual([]);
  });
});
