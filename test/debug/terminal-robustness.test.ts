/**
 * The terminal WebSocket against bad input, with the real engine, real Docker and the real HTTP
 * server: frames `ws` cannot accept and text frames that are no control message end at most that
 * socket — the server goes on answering and other terminals keep working — and the per-job cap
 * holds. The kept job's environment has keys a shell cannot hold (a dotted name, one that looks like
 * code): the debug shell still opens, names them, and runs none of them.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { TERMINAL_LIMITS } from '../../src-main/http/terminal-ws.js';
import { startEngine, type EngineFixture } from '../engine/engine-fixture.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { openTerminal, type TerminalClient } from './terminal-client.js';

const PIPELINE = `name: odd-env
on:
  manual: true
jobs:
  build:
    image: ${TEST_IMAGE}
    env:
      spring.profiles.active: dev
      "X;touch /tmp/pwned-by-name": "1"
      PLAIN: plain-value
    steps:
      - name: Break
        run: exit 3
`;

function closedWith(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    ws.on('error', () => undefined);
    if (ws.readyState === ws.CLOSED) resolve(-1);
    else ws.once('close', (code) => resolve(code));
  });
}

describe('the terminal of a kept job, given bad input', () => {
  let kiln: EngineFixture;
  let server: RunningServer;
  let jobId: string;
  const opened: TerminalClient[] = [];
  const open = async (): Promise<TerminalClient> => {
    const t = await openTerminal(`${server.url.replace('http', 'ws')}/api/jobs/${encodeURIComponent(jobId)}/terminal`);
    opened.push(t);
    return t;
  };
  const health = async (): Promise<number> => (await fetch(`${server.url}/api/health`)).status;
  const works = async (t: TerminalClient, word: string): Promise<void> => {
    const from = t.output().length;
    t.type(`echo "${word}-$((6*7))"\n`);
    await t.waitFor(`${word}-42`, { from });
  };

  beforeAll(async () => {
    kiln = await startEngine({ options: { debug: { keepMs: 90_000 }, onError: () => undefined } });
    kiln.repos[0].commit(PIPELINE);
    server = await startServer({ engine: kiln.engine, port: 0 });
    const [runId] = (await kiln.engine.triggerRun({ repo: 'acme/web', branch: 'main', debug: true })).runIds;
    jobId = (await kiln.waitFor(async () => (await kiln.engine.listKeptJobs()).find((k) => k.runId === runId), 90_000, 'the failed job to be kept')).jobId;
  });

  afterAll(async () => {
    for (const t of opened) t.ws.terminate();
    await server?.close();
    await kiln?.close();
  });

  it('opens the debug shell although the step environment has keys a shell cannot hold, naming them and running none', async () => {
    const t = await open();
    await t.waitFor("kiln: not in this shell's environment (names a shell cannot hold): spring.profiles.active, X;touch /tmp/pwned-by-name");
    t.type('echo "plain=$PLAIN"; ls /tmp/pwned-by-name 2>&1\n');
    await t.waitFor('plain=plain-value');
    await t.waitFor(/pwned-by-name.*(No such file|can't access|not found)/i);
  });

  it.each([
    ['a 2 MiB binary frame', (ws: WebSocket) => ws.send(Buffer.alloc(2 * 1024 * 1024, 0x20), { binary: true }), 1009],
    ['a text frame that is not UTF-8', (ws: WebSocket) => ws.send(Buffer.from([0xc3, 0x28]), { binary: false }), 1007],
  ])('closes the socket that sent %s; the server answers and another terminal still works', async (_what, send, code) => {
    const other = await open();
    await works(other, 'before');
    const bad = await open();
    await works(bad, 'bad');
    const ended = closedWith(bad.ws);
    send(bad.ws);
    expect(await ended).toBe(code);
    expect(await health()).toBe(200);
    await works(other, 'other');
    await works(await open(), 'fresh');
    await other.close();
  });

  it('answers each text frame that is no control message with an error and keeps the shell', async () => {
    const t = await open();
    await works(t, 'first');
    const frames = ['null', '[]', '1', '"x"', '{"type":"resize","cols":null,"rows":null}', '{"type":"ack"}'];
    for (const f of frames) t.ws.send(f);
    await works(t, 'after');
    expect(t.controls().filter((c) => c.type === 'error')).toHaveLength(frames.length);
    expect(await health()).toBe(200);
    await t.close();
  });

  it(`refuses the terminal beyond ${TERMINAL_LIMITS.perJob} into one job with 429, and opens one again after one closed`, async () => {
    for (const t of opened.splice(0)) await t.close();
    const many: TerminalClient[] = [];
    for (let i = 0; i < TERMINAL_LIMITS.perJob; i++) many.push(await open());
    await expect(open()).rejects.toMatchObject({ status: 429, body: expect.stringContaining(`${TERMINAL_LIMITS.perJob} terminals are open into this job`) });
    await many[0].close();
    await new Promise((r) => setTimeout(r, 100));
    await works(await open(), 'again');
  });
});
