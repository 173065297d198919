/**
 * The desktop app's page gets its terminal ticket over IPC (`terminalUrl`), wired as main.ts wires it
 * — the IPC router, the desktop API and the real HTTP server's ticket minting — over the Electron
 * stand-in for ipcMain/ipcRenderer, a real engine and real Docker: a ticket is minted only for a job
 * kept for debugging, opens one terminal into that job, once, and nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IPC_INVOKE_CHANNEL, type Envelope } from '../../shared/api/engine-api.js';
import { createDesktopApi } from '../../src-main/electron/desktop-api.js';
import { registerIpcRouter } from '../../src-main/electron/ipc-router.js';
import { isAppFrame } from '../../src-main/electron/window-security.js';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { startEngine, type EngineFixture } from '../engine/engine-fixture.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { openTerminal } from '../debug/terminal-client.js';
import { FakeIpc } from './fake-ipc.js';

const APP = 'file:///app/dist-renderer/index.html';

const FAILING = `name: dbg
on:
  manual: true
jobs:
  build:
    image: ${TEST_IMAGE}
    steps:
      - name: Break
        run: echo failing now; exit 3
`;

describe('the terminal ticket over IPC', () => {
  let kiln: EngineFixture;
  let server: RunningServer;
  let ipc: FakeIpc;
  let dispose: () => void;
  /** Two jobs kept for debugging, of these runs. */
  let kept: [string, string];
  const runIds: string[] = [];
  const call = (method: string, args: unknown[]): Promise<Envelope<unknown>> => ipc.renderer.invoke(IPC_INVOKE_CHANNEL, method, args) as Promise<Envelope<unknown>>;
  const urlFor = async (jobId: string): Promise<string> => {
    const answer = await call('terminalUrl', [jobId]);
    if (!answer.ok) throw new Error(`terminalUrl refused: ${answer.error.message}`);
    return answer.value as string;
  };
  const refusal = (url: string): Promise<unknown> => openTerminal(url, { origin: 'file://' }).then(async (t) => { await t.close(); return 'opened'; }, (e: unknown) => e);

  beforeAll(async () => {
    kiln = await startEngine({ options: { debug: { keepMs: 120_000 }, onError: () => undefined } });
    kiln.repos[0].commit(FAILING);
    server = await startServer({ engine: kiln.engine, port: 0 });
    ipc = new FakeIpc();
    ipc.frameUrl = APP;
    dispose = registerIpcRouter(ipc.main, {
      engine: kiln.engine,
      desktop: createDesktopApi({ serverUrl: () => server.url, terminalUrl: (jobId) => server.terminalUrl?.(jobId) }),
      isTrustedSender: (url) => isAppFrame(url, APP),
    });
    for (let i = 0; i < 2; i++) runIds.push(...(await kiln.engine.triggerRun({ repo: 'acme/web', branch: 'main', debug: true })).runIds);
    const jobs = await kiln.waitFor(async () => {
      const list = await kiln.engine.listKeptJobs();
      return list.length === 2 ? runIds.map((r) => list.find((k) => k.runId === r)!.jobId) : undefined;
    }, 90_000, 'both failed jobs to be kept');
    kept = [jobs[0], jobs[1]];
  });

  afterAll(async () => {
    dispose?.();
    await server?.close();
    // A stopped engine leaves its kept containers up for the next start: end debugging, and let the
    // runs finish (their teardown), first.
    for (const k of (await kiln?.engine.listKeptJobs()) ?? []) await kiln.engine.endDebug(k.jobId);
    for (const runId of runIds) await kiln.waitForRun(runId);
    await kiln?.close();
  });

  it('answers a URL for a kept job whose ticket opens a shell in that job, once', async () => {
    const url = await urlFor(kept[0]);
    expect(url).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:${server.port}/api/jobs/${kept[0]}/terminal\\?ticket=[0-9a-f]{48}$`));
    const t = await openTerminal(url, { origin: 'file://' });
    t.type('echo "ipc-$((6*7))"\n');
    await t.waitFor('ipc-42');
    await t.close();
    expect(await refusal(url)).toMatchObject({ status: 403 });
  });

  it('mints a new ticket on each call', async () => {
    const [a, b] = [await urlFor(kept[0]), await urlFor(kept[0])];
    expect(a).not.toBe(b);
    await (await openTerminal(b, { origin: 'file://' })).close();
    await (await openTerminal(a, { origin: 'file://' })).close();
  });

  it('binds the ticket to its job: for another kept job it is refused, and spent', async () => {
    const url = await urlFor(kept[0]);
    const other = url.replace(`/jobs/${kept[0]}/`, `/jobs/${kept[1]}/`);
    expect(await refusal(other)).toMatchObject({ status: 403 });
    expect(await refusal(url)).toMatchObject({ status: 403 });
  });

  it('refuses a ticket for a job that is not kept, with CONFLICT', async () => {
    expect(await call('terminalUrl', ['no-such-job'])).toMatchObject({ ok: false, error: { code: 'CONFLICT', message: expect.stringMatching(/job no-such-job is not kept for debugging/) } });
    await kiln.engine.endDebug(kept[1]);
    expect(await call('terminalUrl', [kept[1]])).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect(await call('terminalUrl', [42])).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: 'terminalUrl: jobId must be a job id, got 42' } });
  });

  it('refuses a ticket to a frame that is not the app page', async () => {
    ipc.frameUrl = 'https://evil.example/';
    try {
      expect(await call('terminalUrl', [kept[0]])).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    } finally {
      ipc.frameUrl = APP;
    }
  });
});
