import express from 'express';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogLine } from '../../shared/model/run.js';
import { startServer } from '../../src-main/http/app.js';
import { openSse } from '../../src-main/http/sse.js';
import type { RunningServer } from '../../src-main/http/app.js';
import { StubEngine, testConfig } from './helpers/stub-engine.js';
import { readSse } from './helpers/sse-client.js';
import type { SseEvent } from './helpers/sse-client.js';

const lineEvents = (events: SseEvent[]): LogLine[] => events.filter((e) => !e.event).map((e) => JSON.parse(e.data) as LogLine);

describe('GET /api/jobs/:id/log/stream', () => {
  let engine: StubEngine;
  let server: RunningServer;

  beforeEach(async () => {
    engine = new StubEngine(testConfig([]));
    server = await startServer({ engine, port: 0 });
  });

  afterEach(async () => {
    await server.close();
    await engine.stop();
  });

  const streamUrl = (job: string, query = ''): string => `${server.url}/api/jobs/${job}/log/stream${query}`;

  it('sends the stored backlog, then live lines, then an end event once the job is complete', async () => {
    engine.appendLog('j1', ['one', 'two', 'three']);
    const sse = await readSse(streamUrl('j1'));
    expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(sse.headers.get('cache-control')).toMatch(/no-cache/);
    await sse.waitFor((e) => e.length === 3, 'the backlog');
    engine.appendLog('j1', ['four', 'five']);
    await sse.waitFor((e) => e.length === 5, 'the live lines');
    engine.finishJob('j1');
    await sse.waitFor((e) => e.some((x) => x.event === 'end'), 'the end event');
    await sse.ended;
    expect(sse.events.map((e) => e.id ?? e.event)).toEqual(['0', '1', '2', '3', '4', 'end']);
    expect(lineEvents(sse.events).map((l) => l.text)).toEqual(['one', 'two', 'three', 'four', 'five']);
    expect(JSON.parse(sse.events[5].data)).toEqual({ nextOffset: 5 });
  });

  it('resumes exactly after Last-Event-ID', async () => {
    engine.appendLog('j1', ['a', 'b', 'c', 'd']);
    const sse = await readSse(streamUrl('j1'), { 'last-event-id': '1' });
    await sse.waitFor((e) => e.length === 2, 'the lines after 1');
    sse.close();
    expect(sse.events.map((e) => e.id)).toEqual(['2', '3']);
  });

  it('starts at ?offset= when there is no Last-Event-ID', async () => {
    engine.appendLog('j1', ['a', 'b', 'c']);
    engine.finishJob('j1');
    const sse = await readSse(streamUrl('j1', '?offset=2'));
    await sse.ended;
    expect(sse.events.map((e) => e.id ?? e.event)).toEqual(['2', 'end']);
  });

  it('ends at once for a finished job whose lines were all sent', async () => {
    engine.appendLog('j1', ['a']);
    engine.finishJob('j1');
    const sse = await readSse(streamUrl('j1'), { 'last-event-id': '0' });
    await sse.ended;
    expect(sse.events.map((e) => e.event)).toEqual(['end']);
  });

  it('loses and repeats no line while lines are written during connects and reconnects', async () => {
    let written = 0;
    const writer = setInterval(() => {
      engine.appendLog('j1', [`line ${written}`, `line ${written + 1}`]);
      written += 2;
    }, 1);
    const received: LogLine[] = [];
    try {
      let lastId: string | undefined;
      for (let round = 0; round < 4; round++) {
        const sse = await readSse(streamUrl('j1'), lastId === undefined ? {} : { 'last-event-id': lastId });
        const target = received.length + 40;
        await sse.waitFor((e) => received.length + lineEvents(e).length >= target, `40 more lines in round ${round}`);
        sse.close();
        await sse.ended;
        received.push(...lineEvents(sse.events));
        lastId = String(received[received.length - 1].seq);
      }
    } finally {
      clearInterval(writer);
    }
    engine.finishJob('j1');
    const last = await readSse(streamUrl('j1'), { 'last-event-id': String(received[received.length - 1].seq) });
    await last.ended;
    received.push(...lineEvents(last.events));
    expect(last.events[last.events.length - 1].event).toBe('end');
    expect(received.map((l) => l.seq)).toEqual(Array.from({ length: written }, (_, i) => i));
    expect(received.map((l) => l.text)).toEqual(Array.from({ length: written }, (_, i) => `line ${i}`));
  });

  it('stops listening to the engine when the client goes away', async () => {
    engine.appendLog('j1', ['a']);
    const before = engine.listenerCount();
    const sse = await readSse(streamUrl('j1'));
    await sse.waitFor((e) => e.length === 1, 'the first line');
    expect(engine.listenerCount()).toBe(before + 1);
    sse.close();
    const deadline = Date.now() + 2000;
    while (engine.listenerCount() > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(engine.listenerCount()).toBe(before);
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
