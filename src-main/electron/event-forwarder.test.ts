import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../shared/api/engine-api.js';
import type { LogLine } from '../../shared/model/run.js';
import { forwardEngineEvents } from './event-forwarder.js';

const line = (seq: number): LogLine => ({ seq, ts: seq, stream: 'stdout', step: 0, text: `l${seq}` });

function fakeEngine() {
  const listeners = new Set<(e: EngineEvent) => void>();
  return {
    subscribe(l: (e: EngineEvent) => void) { listeners.add(l); return () => listeners.delete(l); },
    publish(e: EngineEvent) { for (const l of listeners) l(e); },
    get count() { return listeners.size; },
  };
}

describe('forwardEngineEvents', () => {
  it('coalesces a burst of log lines for one job into one message', async () => {
    const engine = fakeEngine();
    const sent: EngineEvent[] = [];
    const stop = forwardEngineEvents(engine, (e) => sent.push(e), 10);
    for (let i = 0; i < 5; i++) engine.publish({ type: 'log', jobId: 'j', lines: [line(i)] });
    await new Promise((r) => setTimeout(r, 30));
    expect(sent).toEqual([{ type: 'log', jobId: 'j', lines: [0, 1, 2, 3, 4].map(line) }]);
    stop();
  });

  it('keeps the engine order: pending lines go out before a status event', () => {
    const engine = fakeEngine();
    const sent: EngineEvent[] = [];
    const stop = forwardEngineEvents(engine, (e) => sent.push(e), 1000);
    engine.publish({ type: 'log', jobId: 'j', lines: [line(0)] });
    engine.publish({ type: 'job', runId: 'r', jobId: 'j', status: 'passed' });
    expect(sent.map((e) => e.type)).toEqual(['log', 'job']);
    stop();
  });

  it('unsubscribes from the engine when stopped', () => {
    const engine = fakeEngine();
    const stop = forwardEngineEvents(engine, () => undefined);
    expect(engine.count).toBe(1);
    stop();
    expect(engine.count).toBe(0);
  });

  it('survives a send that throws (a destroyed window)', () => {
    const engine = fakeEngine();
    const stop = forwardEngineEvents(engine, () => { throw new Error('destroyed'); });
    expect(() => engine.publish({ type: 'tunnel', tunnel: { state: 'disabled' } })).not.toThrow();
    stop();
  });
});
