/**
 * The job log stream against the real Engine and server: the lines are what the jobs' steps print
 * (programs of the fake executor), stored and published by the engine. Jobs that must still be
 * running while a test looks wait until the test releases their run. The finished job the
 * read-only tests read is made once.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { EngineEvent } from '../../shared/api/engine-api.js';
import type { LogLine } from '../../shared/model/run.js';
import { openSse } from '../../src-main/http/sse.js';
import { held, prints, type StepProgram } from '../helpers/fake-executor.js';
import { pipelineOf } from '../helpers/fake-engine.js';
import { startApiEngine, type ApiEngine } from './helpers/api-engine.js';
import { readSse } from './helpers/sse-client.js';
import type { SseEvent } from './helpers/sse-client.js';

const REPO = 'acme/logs';
const PROGRAMS: Record<string, StepProgram> = {
  /** Four lines, then done. */
  'print-abcd': prints('a', 'b', 'c', 'd'),
  /** Three lines, then waits for the test, then two more. */
  'print-gated': held(['one', 'two', 'three'], ['four', 'five']),
  /** `line N` every 5 ms until the test releases the run (at most 20000 lines, should the test die first). */
  'write-until-released': async (io) => {
    for (let i = 0; !io.isReleased() && !io.signal.aborted && i < 20000; i++) {
      io.out(`line ${i}`);
      await io.sleep(5);
    }
    return 0;
  },
};
const FINISHED = pipelineOf({ print: ['print-abcd'] });
const GATED = pipelineOf({ print: ['print-gated'] });
const WRITER = pipelineOf({ print: ['write-until-released'] });

const lineEvents = (events: SseEvent[]): LogLine[] => events.filter((e) => !e.event).map((e) => JSON.parse(e.data) as LogLine);
const stdout = (lines: LogLine[]): string[] => lines.filter((l) => l.stream === 'stdout').map((l) => l.text);

describe('GET /api/jobs/:id/log/stream', () => {
  let w: ApiEngine;
  /** The finished job and its whole stored log. */
  let done: { jobId: string; lines: LogLine[] };

  beforeAll(async () => {
    w = await startApiEngine({ repos: { [REPO]: { main: FINISHED, gated: GATED, writer: WRITER } }, programs: PROGRAMS });
    const run = await w.waitForRun(await w.trigger(REPO, 'main'));
    const jobId = run.jobs[0].id;
    done = { jobId, lines: (await w.engine.getLog(jobId, 0, 10_000)).lines };
  });
  afterAll(async () => { await w?.close(); });

  const streamUrl = (job: string, query = ''): string => `${w.server.url}/api/jobs/${job}/log/stream${query}`;
  const idsFrom = (from: number): string[] => done.lines.slice(from).map((l) => String(l.seq));

  /** Starts a run of `branch` and waits until its job has stored a line `text`; returns ids and the stored lines. */
  async function startJob(branch: string, text: string): Promise<{ runId: string; jobId: string; stored: LogLine[] }> {
    const runId = await w.trigger(REPO, branch);
    const jobId = (await w.engine.getRun(runId)).jobs[0].id;
    const stored = await w.fixture.waitFor(async () => {
      const { lines } = await w.engine.getLog(jobId, 0, 10_000);
      return lines.some((l) => l.text === text) ? lines : undefined;
    }, 60_000, `job ${jobId} to print '${text}'`);
    return { runId, jobId, stored };
  }

  it('has a finished job whose log the read-only tests read', () => {
    expect(stdout(done.lines)).toEqual(['a', 'b', 'c', 'd']);
    expect(done.lines.map((l) => l.seq)).toEqual(done.lines.map((_, i) => i));
  });

  it('sends the stored backlog, then live lines, then an end event once the job is complete', async () => {
    const job = await startJob('gated', 'three');
    const sse = await readSse(streamUrl(job.jobId));
    expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(sse.headers.get('cache-control')).toMatch(/no-cache/);
    await sse.waitFor((e) => e.length >= job.stored.length, 'the backlog');
    expect(lineEvents(sse.events).slice(0, job.stored.length)).toEqual(job.stored);
    // The job waits at the gate: nothing after 'three' exists yet.
    expect(stdout(lineEvents(sse.events))).toEqual(['one', 'two', 'three']);
    w.executor.release(job.runId);
    await sse.waitFor((e) => e.some((x) => x.event === 'end'), 'the end event', 60_000);
    await sse.ended;
    const lines = lineEvents(sse.events);
    expect(stdout(lines)).toEqual(['one', 'two', 'three', 'four', 'five']);
    expect(sse.events.map((e) => e.id ?? e.event)).toEqual([...lines.map((_, i) => String(i)), 'end']);
    expect(lines).toEqual((await w.engine.getLog(job.jobId, 0, 10_000)).lines);
    expect(JSON.parse(sse.events[sse.events.length - 1].data)).toEqual({ nextOffset: lines.length });
    expect((await w.waitForRun(job.runId)).status).toBe('passed');
  });

  it('resumes exactly after Last-Event-ID', async () => {
    const sse = await readSse(streamUrl(done.jobId), { 'last-event-id': '1' });
    await sse.ended;
    expect(sse.events.map((e) => e.id ?? e.event)).toEqual([...idsFrom(2), 'end']);
    expect(lineEvents(sse.events)).toEqual(done.lines.slice(2));
  });

  it('starts at ?offset= when there is no Last-Event-ID', async () => {
    const last = done.lines.length - 1;
    const sse = await readSse(streamUrl(done.jobId, `?offset=${last}`));
    await sse.ended;
    expect(sse.events.map((e) => e.id ?? e.event)).toEqual([String(last), 'end']);
    // A reconnect's Last-Event-ID wins over the offset of the URL it reconnects to.
    const resumed = await readSse(streamUrl(done.jobId, '?offset=0'), { 'last-event-id': String(last - 2) });
    await resumed.ended;
    expect(resumed.events.map((e) => e.id ?? e.event)).toEqual([...idsFrom(last - 1), 'end']);
  });

  it('ends at once for a finished job whose lines were all sent', async () => {
    const sse = await readSse(streamUrl(done.jobId), { 'last-event-id': String(done.lines.length - 1) });
    await sse.ended;
    expect(sse.events.map((e) => e.event)).toEqual(['end']);
    expect(JSON.parse(sse.events[0].data)).toEqual({ nextOffset: done.lines.length });
  });

  it('loses and repeats no line while a running job writes lines during connects and reconnects', async () => {
    const job = await startJob('writer', 'line 0');
    const received: LogLine[] = [];
    let lastId: string | undefined;
    for (let round = 0; round < 4; round++) {
      const sse = await readSse(streamUrl(job.jobId), lastId === undefined ? {} : { 'last-event-id': lastId });
      const target = received.length + 40;
      await sse.waitFor((e) => received.length + lineEvents(e).length >= target, `40 more lines in round ${round}`, 30_000);
      sse.close();
      await sse.ended;
      received.push(...lineEvents(sse.events));
      lastId = String(received[received.length - 1].seq);
    }
    // The writer is held at work until the gate opens: every round met a job that was still writing.
    expect((await w.engine.getRun(job.runId)).jobs[0].status).toBe('running');
    w.executor.release(job.runId);
    const last = await readSse(streamUrl(job.jobId), { 'last-event-id': lastId ?? '' });
    await last.waitFor((e) => e.some((x) => x.event === 'end'), 'the end of the job', 60_000);
    await last.ended;
    received.push(...lineEvents(last.events));
    expect(last.events[last.events.length - 1].event).toBe('end');
    expect(received.length).toBeGreaterThanOrEqual(160);
    const written = stdout(received);
    expect(written.length).toBeGreaterThan(100);
    expect(received.map((l) => l.seq)).toEqual(received.map((_, i) => i));
    expect(written).toEqual(written.map((_, i) => `line ${i}`));
    expect(received).toEqual((await w.engine.getLog(job.jobId, 0, 100_000)).lines);
  });

  it('stops listening to the engine when the client goes away', async () => {
    const job = await startJob('gated', 'three');
    // Counts the engine's live subscriptions by wrapping its real subscribe (the server calls it per stream).
    let live = 0;
    const subscribe = w.engine.subscribe.bind(w.engine);
    const spy = vi.spyOn(w.engine, 'subscribe').mockImplementation((listener: (event: EngineEvent) => void) => {
      live++;
      const unsubscribe = subscribe(listener);
      let subscribed = true;
      return () => {
        if (subscribed) live--;
        subscribed = false;
        unsubscribe();
      };
    });
    try {
      const sse = await readSse(streamUrl(job.jobId));
      await sse.waitFor((e) => e.length >= 1, 'the first line');
      expect(live).toBe(1);
      sse.close();
      const deadline = Date.now() + 2000;
      while (live > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(live).toBe(0);
      // The job is still running: only the client's leaving can have ended the subscription.
      expect((await w.engine.getRun(job.runId)).jobs[0].status).toBe('running');
    } finally {
      spy.mockRestore();
      w.executor.release(job.runId);
    }
    expect((await w.waitForRun(job.runId)).status).toBe('passed');
  });
});

describe('an SSE connection', () => {
  it('sends heartbeat comments while idle', async () => {
    const app = express();
    app.get('/s', (req, res) => { openSse(req, res, undefined, 30); });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const sse = await readSse(`http://127.0.0.1:${(server.address() as AddressInfo).port}/s`);
      const deadline = Date.now() + 2000;
      while (sse.comments.filter((c) => c === 'heartbeat').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      sse.close();
      expect(sse.comments.filter((c) => c === 'heartbeat').length).toBeGreaterThanOrEqual(2);
      expect(sse.events).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
