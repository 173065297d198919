import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiError, DESKTOP_API_METHODS, ENGINE_API_METHODS, IPC_INVOKE_CHANNEL, type EngineApi, type Envelope } from '../../shared/api/engine-api.js';
import { registerIpcRouter } from '../../src-main/electron/ipc-router.js';
import { isAppFrame } from '../../src-main/electron/window-security.js';
import { FakeIpc } from './fake-ipc.js';
import { exits, prints } from '../helpers/fake-executor.js';
import { pipelineOf, startFakeEngine, type FakeEngine } from '../helpers/fake-engine.js';
import { recordCalls, type RecordingEngine } from './record-calls.js';

const APP = 'file:///app/dist-renderer/index.html';

/** Arguments for each contract method, so the test walks the whole contract, not a sample (ids of a finished run of the engine). */
const sampleArgs = (run1: string, job1: string, kept: string, gated: [string, string]): Record<keyof EngineApi, unknown[]> => ({
  listRuns: [{ limit: 10 }],
  getRun: [run1],
  triggerRun: [{ repo: 'acme/web', branch: 'main' }],
  cancelRun: [run1],
  rerun: [run1, { failedOnly: true }],
  getLog: [job1, 0, 10],
  searchLog: [job1, 'needle', 5],
  getLogGroups: [job1, 0],
  getRunRecords: [run1],
  listArtifacts: [run1],
  listDeliveries: [10],
  listRepositories: [],
  storageMetrics: [],
  health: [],
  freeSpace: [{ logsOlderThanDays: 365 }],
  getSettings: [],
  saveRepository: [{ name: 'acme/api', url: 'https://example.com/acme/api.git', addWebhookSecrets: ['s3cret'], secrets: { NPM_TOKEN: 'v' } }],
  removeRepository: ['acme/retired'],
  saveServerSettings: [{ tunnelUrl: 'https://smee.io/abc', concurrency: { jobs: 3 } }],
  getRunReporting: [run1],
  getTestReport: [run1, 'needle'],
  getRunTiming: [run1],
  // Not configured, with a URL that is not one: connect stops at its first step, without reaching
  // smee.io or a forge (with no URL at all it is NOT_FOUND, an error envelope).
  connectRepository: [{ name: 'acme/not-configured', url: 'not a clone url' }],
  listKeptJobs: [],
  extendDebug: [kept, 5],
  rerunFailedStep: [kept],
  endDebug: [kept],
  approveJob: [gated[0], { by: 'ada' }],
  rejectJob: [gated[1]],
  listSchedules: [],
  // Saved to the file only: the engine runs on its own executor, so the pool does not follow.
  saveEngine: [{ name: 'spare', create: true, address: 'unix:///nonexistent/docker.sock', limit: 1, labels: ['big'] }],
  removeEngine: ['spare'],
});

const GATED = 'name: gated\non:\n  manual: true\njobs:\n  deploy:\n    image: fake\n    when: manual\n    steps:\n      - run: say-needle\n';

describe('the IPC router', () => {
  let ipc: FakeIpc;
  let kiln: FakeEngine;
  let engine: RecordingEngine;
  let SAMPLE_ARGS: Record<keyof EngineApi, unknown[]>;
  let dispose: () => void;
  const call = (method: string, args: unknown[]): Promise<Envelope<unknown>> => ipc.renderer.invoke(IPC_INVOKE_CHANNEL, method, args) as Promise<Envelope<unknown>>;

  // One real engine for the file, with one finished run whose job printed 'a needle', and a
  // repository no test uses but the one that removes it. Each test records its own calls.
  beforeAll(async () => {
    kiln = await startFakeEngine({
      repos: { 'acme/web': { main: pipelineOf({ build: ['say-needle'] }), broken: pipelineOf({ build: ['fail'] }) }, 'acme/gated': { main: GATED } },
      programs: { 'say-needle': prints('a needle'), fail: exits(1, 'failing') },
      extraRepositories: [{ name: 'acme/retired', url: '/nonexistent/retired.git' }],
    });
    const run = await kiln.waitForRun(await kiln.trigger('acme/web', 'main'));
    // A failed job of a run started with debug, kept for the debug methods (the methods run in list order: end last).
    const [debugRun] = (await kiln.engine.triggerRun({ repo: 'acme/web', branch: 'broken', debug: true })).runIds;
    let kept;
    for (let i = 0; i < 300 && !(kept = (await kiln.engine.listKeptJobs()).find((k) => k.runId === debugRun)); i++) await new Promise((r) => setTimeout(r, 50));
    if (!kept) throw new Error(`the failed job of the debug run was never kept: ${JSON.stringify(await kiln.engine.getRun(debugRun))}`);
    // Two jobs waiting for approval: one to approve, one to reject.
    const gated: string[] = [];
    for (let i = 0; i < 2; i++) {
      const id = await kiln.trigger('acme/gated', 'main');
      gated.push(await kiln.waitFor(async () => (await kiln.engine.getRun(id)).jobs.find((j) => j.approval?.state === 'waiting')?.id, 20_000, 'a job waiting for approval'));
    }
    SAMPLE_ARGS = sampleArgs(run.id, run.jobs[0].id, kept.jobId, [gated[0], gated[1]]);
  });
  afterAll(async () => { await kiln?.close(); });

  beforeEach(() => {
    ipc = new FakeIpc();
    engine = recordCalls(kiln.engine);
    dispose = registerIpcRouter(ipc.main, {
      engine,
      desktop: { serverUrl: async () => 'http://127.0.0.1:7070', terminalUrl: async (jobId: string) => `ws://127.0.0.1:7070/api/jobs/${jobId}/terminal?ticket=t` },
      isTrustedSender: (url) => isAppFrame(url, APP),
    });
    engine.calls = [];
  });
  afterEach(() => dispose());

  it('registers exactly one channel for the whole contract', () => {
    expect([...ipc.handlers.keys()]).toEqual([IPC_INVOKE_CHANNEL]);
  });

  it.each(ENGINE_API_METHODS.map((m) => [m]))('routes %s to the engine with its arguments and answers an ok envelope', async (method) => {
    const answer = await call(method, SAMPLE_ARGS[method]);
    expect(answer.ok).toBe(true);
    expect(engine.calls[0]).toEqual({ method, args: SAMPLE_ARGS[method].length ? SAMPLE_ARGS[method] : [] });
  });

  it('answers a void method with null, which survives structured cloning', async () => {
    expect(await call('cancelRun', SAMPLE_ARGS.cancelRun)).toEqual({ ok: true, value: null });
  });

  it('routes the desktop-only calls too', async () => {
    expect(DESKTOP_API_METHODS).toContain('serverUrl');
    expect(await call('serverUrl', [])).toEqual({ ok: true, value: 'http://127.0.0.1:7070' });
  });

  it('turns an ApiError into an error envelope that keeps its code', async () => {
    expect(await call('getRun', ['missing'])).toEqual({ ok: false, error: { name: 'ApiError', code: 'NOT_FOUND', message: "run 'missing' does not exist" } });
  });

  it('turns an unexpected exception into INTERNAL without a stack trace', async () => {
    engine.health = async () => { throw new TypeError('boom'); };
    const answer = await call('health', []);
    expect(answer).toEqual({ ok: false, error: { name: 'ApiError', code: 'INTERNAL', message: 'boom' } });
    expect(JSON.stringify(answer)).not.toContain('at ');
  });

  it('refuses a method outside the contract', async () => {
    const answer = await call('constructor', []);
    expect(answer).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await call('stop', [])).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  });

  it('refuses arguments that are not an array', async () => {
    expect(await ipc.renderer.invoke(IPC_INVOKE_CHANNEL, 'getRun', 'run-1')).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  });

  it('refuses calls from a frame that is not the app page', async () => {
    ipc.frameUrl = 'https://evil.example/';
    expect(await call('listRuns', [{}])).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(engine.calls).toEqual([]);
  });

  it('removes its handler when disposed', () => {
    dispose();
    expect(ipc.handlers.size).toBe(0);
    dispose = () => undefined;
  });

  it('rebuilds errors as ApiError values on the renderer side, not plain objects', async () => {
    const answer = await call('getRun', ['missing']);
    if (answer.ok) throw new Error('expected an error');
    const rebuilt = new ApiError(answer.error.code, answer.error.message);
    expect(rebuilt).toBeInstanceOf(Error);
    expect(rebuilt.code).toBe('NOT_FOUND');
  });
});
