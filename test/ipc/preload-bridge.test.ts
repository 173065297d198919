import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError, IPC_EVENT_CHANNEL, type EngineEvent } from '../../shared/api/engine-api.js';
import type { LogLine } from '../../shared/model/run.js';
import { buildBridge } from '../../src-main/electron/bridge-api.js';
import { forwardEngineEvents } from '../../src-main/electron/event-forwarder.js';
import { registerIpcRouter } from '../../src-main/electron/ipc-router.js';
import { IpcClient } from '../../src-renderer/api/ipc-client.js';
import { FakeIpc } from './fake-ipc.js';
import type { StepProgram } from '../helpers/fake-executor.js';
import { pipelineOf, startFakeEngine, type Engine, type FakeEngine } from '../helpers/fake-engine.js';

const line = (seq: number): LogLine => ({ seq, ts: seq, stream: 'stdout', step: 0, text: `line ${seq}` });

/**
 * The job of the live-log test. Its log: 0–2 the executor's system lines (checkout, workspace
 * ready, the step's start); then, released at 'more', 3–4 printed; then, released at 'end', 5 the
 * step's end (a system line), and it passes.
 */
const PRINT_IN_TURNS: StepProgram = async (io) => {
  await io.released('more');
  io.out('line 3');
  io.out('line 4');
  await io.released('end');
  return 0;
};

describe("the preload's bridge", () => {
  let ipc: FakeIpc;
  let kiln: FakeEngine;
  let engine: Engine;
  let dispose: () => void;

  beforeEach(async () => {
    ipc = new FakeIpc();
    kiln = await startFakeEngine({ repos: { 'acme/web': { main: pipelineOf({ build: ['print-in-turns'] }) } }, programs: { 'print-in-turns': PRINT_IN_TURNS } });
    engine = kiln.engine;
    dispose = registerIpcRouter(ipc.main, { engine, desktop: { serverUrl: async () => 'http://127.0.0.1:7070', terminalUrl: async () => 'ws://127.0.0.1:7070/' } });
  });
  afterEach(async () => {
    dispose();
    await kiln.close();
  });

  it('is one small frozen object: invoke and onEvent, nothing per channel', () => {
    const bridge = buildBridge(ipc.renderer);
    expect(Object.keys(bridge).sort()).toEqual(['invoke', 'onEvent']);
    expect(Object.isFrozen(bridge)).toBe(true);
    expect(typeof bridge.invoke).toBe('function');
    expect(typeof bridge.onEvent).toBe('function');
  });

  it('exposes no ipcRenderer, no Electron event object and no way to pick a channel', async () => {
    const bridge = buildBridge(ipc.renderer);
    const seen: unknown[] = [];
    bridge.onEvent((...args: unknown[]) => seen.push(args));
    ipc.send(IPC_EVENT_CHANNEL, { type: 'tunnel', tunnel: { state: 'disabled' } });
    expect(seen).toEqual([[{ type: 'tunnel', tunnel: { state: 'disabled' } }]]);
    expect(await bridge.invoke('removeHandler', [])).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  });

  it('stops delivering events after unsubscribe', () => {
    const bridge = buildBridge(ipc.renderer);
    const seen: EngineEvent[] = [];
    const off = bridge.onEvent((e) => seen.push(e));
    off();
    ipc.send(IPC_EVENT_CHANNEL, { type: 'tunnel', tunnel: { state: 'disabled' } });
    expect(seen).toEqual([]);
    expect(ipc.listeners.get(IPC_EVENT_CHANNEL)?.size ?? 0).toBe(0);
  });

  describe('used by the renderer IPC client', () => {
    it('returns engine values through the whole chain', async () => {
      const client = new IpcClient(buildBridge(ipc.renderer));
      await client.init();
      const { runIds } = await client.triggerRun({ repo: 'acme/web', branch: 'main' });
      const page = await client.listRuns({ limit: 5 });
      expect(page.items.map((r) => r.id)).toEqual(runIds);
      expect(client.artifactUrl('a1')).toBe('http://127.0.0.1:7070/api/artifacts/a1/download');
    });

    it('rejects with a rebuilt ApiError carrying the engine code', async () => {
      const client = new IpcClient(buildBridge(ipc.renderer));
      const err = await client.getRun('nope').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe('NOT_FOUND');
    });

    it('follows a live log with no gap and no duplicate, then ends', async () => {
      const listeners = new Set<(e: EngineEvent) => void>();
      const bus = { subscribe: (l: (e: EngineEvent) => void) => { listeners.add(l); return () => listeners.delete(l); } };
      const stopForwarding = forwardEngineEvents(bus, (e) => ipc.send(IPC_EVENT_CHANNEL, e), 5);
      const publish = (e: EngineEvent): void => { for (const l of listeners) l(e); };
      // A real job that has stored lines 0–2 and is still running: the paged API never says complete until the end.
      const runId = await kiln.trigger('acme/web', 'main');
      const jobId = (await engine.getRun(runId)).jobs[0].id;
      const stored = async (): Promise<number> => (await engine.getLog(jobId, 0, 100)).lines.length;
      await kiln.waitFor(async () => (await stored()) === 3 || undefined, 30_000, 'lines 0-2');

      const client = new IpcClient(buildBridge(ipc.renderer));
      const got: number[] = [];
      let ended = false;
      const stop = client.followLog(jobId, 0, (lines) => got.push(...lines.map((l) => l.seq)), () => { ended = true; });
      await new Promise((r) => setTimeout(r, 30));
      // Line 3 is published twice (a replay), line 5 arrives before it reaches the store's feed.
      kiln.executor.release(runId, 'more');
      await kiln.waitFor(async () => (await stored()) === 5 || undefined, 30_000, 'lines 3-4');
      publish({ type: 'log', jobId, lines: [line(2), line(3)] });
      publish({ type: 'log', jobId, lines: [line(3)] });
      publish({ type: 'log', jobId, lines: [line(5)] });
      await new Promise((r) => setTimeout(r, 60));
      kiln.executor.release(runId, 'end');
      await kiln.waitForRun(runId);
      publish({ type: 'job', runId, jobId, status: 'passed' });
      await new Promise((r) => setTimeout(r, 60));
      expect(got).toEqual([0, 1, 2, 3, 4, 5]);
      expect(ended).toBe(true);
      stop();
      stopForwarding();
    });
  });
});
