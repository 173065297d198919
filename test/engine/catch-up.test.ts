/**
 * Catch-up over real git remotes (`git daemon` and `git http-backend` on loopback): pushes made
 * while the engine is stopped, while the tunnel is down, while the machine "sleeps", and to
 * poll-only repositories, each build once; moves back and deletions build nothing; a failing
 * remote is reported and retried with backoff. The job is skipped at plan time (`if: false`), so
 * these tests create runs without starting containers: what is under test is which runs exist.
 */
import Database from 'better-sqlite3';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer as createNetServer } from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../shared/model/run.js';
import type { KilnConfig, RepositoryConfig } from '../../src-main/core/engine-contract.js';
import { Engine, type EngineOptions } from '../../src-main/engine/engine.js';
import { CATCH_UP_ACTOR } from '../../src-main/trigger/catch-up.js';
import { signGithub } from '../../src-main/trigger/signature.js';
import { WebhookReceiver } from '../../src-main/trigger/webhook-receiver.js';
import { controlTunnel } from '../../src-main/trigger/tunnel-control.js';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import { createRemoteRepo, startGitDaemon, startHttpBackend, type GitDaemon, type RemoteRepo } from '../helpers/git-servers.js';
import { compiledEngine, type CompiledEngine } from '../helpers/compiled-engine.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startStandIn } from '../forge/github-stand-in.js';

const PIPELINE = (tag: string) => `name: ci-${tag}
on: { push: {}, pull_request: {} }
jobs:
  build:
    image: ${TEST_IMAGE}
    if: "false"
    steps:
      - run: echo never
`;

let root: string;
let daemon: GitDaemon | undefined;
let engine: Engine | undefined;
let remote: RemoteRepo;
let errors: string[];

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'kiln-catchup-'));
  remote = createRemoteRepo(join(root, 'srv'), 'web');
  remote.push(PIPELINE('0'));
  daemon = await startGitDaemon(join(root, 'srv'));
  errors = [];
});

afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  await daemon?.stop();
  rmSync(root, { recursive: true, force: true });
});

function config(repo: Partial<RepositoryConfig> = {}, catchUp?: KilnConfig['catchUp']): KilnConfig {
  return {
    ...defaultConfig(), server: { host: '127.0.0.1', port: 0 }, ...(catchUp ? { catchUp } : {}),
    repositories: [{ name: 'acme/web', url: daemon!.url('web'), defaultBranch: 'main', webhookSecrets: ['s3cret'], secrets: {}, priority: {}, ...repo }],
  };
}

async function start(c: KilnConfig, options: Partial<EngineOptions> = {}): Promise<Engine> {
  engine = await Engine.start({ config: c, dataDir: join(root, 'data'), onError: (m, e) => errors.push(`${m}: ${(e as Error).message}`), ...options });
  await engine.catchUpSettled();
  return engine;
}

async function restart(c: KilnConfig): Promise<Engine> {
  await engine?.stop();
  return start(c);
}

async function runs(): Promise<RunSummary[]> {
  return (await engine!.listRuns({ limit: 200 })).items;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('when Kiln first sees a repository', () => {
  it('records its heads without building its history', async () => {
    await start(config());
    expect(await runs()).toEqual([]);
    expect((await engine!.health()).refChecks).toMatchObject([{ repo: 'acme/web', mode: 'webhook', result: 'ok', failures: 0, caughtUp: 0 }]);
  });
});

describe('when pushes were made while Kiln was stopped', () => {
  it('builds every missed head once, marked as caught up, and nothing more on the next start', async () => {
    await start(config());
    await engine!.stop();
    remote.push(PIPELINE('1'));
    const main = remote.push(PIPELINE('2'));
    const feature = remote.push(PIPELINE('3'), 'feature/x');
    git('tag', 'v1.0', main);
    await restart(config());
    const built = await runs();
    expect(built.map((r) => [r.branch ?? r.tag, r.sha, r.triggeredBy]).sort()).toEqual([
      ['feature/x', feature, CATCH_UP_ACTOR], ['main', main, CATCH_UP_ACTOR], ['v1.0', main, CATCH_UP_ACTOR],
    ].sort());
    expect((await engine!.health()).refChecks?.[0]).toMatchObject({ result: 'ok', caughtUp: 3 });
    await restart(config());
    expect(await runs()).toHaveLength(3);
  });
});

function git(...args: string[]): void {
  // Tags are made in the work clone and pushed, like a developer's.
  execFileSync('git', ['-C', remote.work, ...args]);
  if (args[0] === 'tag') execFileSync('git', ['-C', remote.work, 'push', '-q', 'origin', `refs/tags/${args[1]}`]);
}

describe('when a webhook and a catch-up bring the same push', () => {
  it('builds it once whichever comes first, and once when they race', async () => {
    await start(config());
    const push = (sha: string) => ({ kind: 'push' as const, repo: 'acme/web', branch: 'main', ref: 'refs/heads/main', sha, triggeredBy: 'ada' });

    const first = remote.push(PIPELINE('a'));
    const byWebhook = await engine!.handleEvent(push(first));
    expect(byWebhook.runIds).toHaveLength(1);
    engine!.requestCatchUp('acme/web');
    await engine!.catchUpSettled();

    const second = remote.push(PIPELINE('b'));
    engine!.requestCatchUp('acme/web');
    await engine!.catchUpSettled();
    const late = await engine!.handleEvent(push(second));
    expect(late.runIds).toEqual([]);
    expect(late.reason).toMatch(/already built by run #\d+ \(caught up\)/);

    const third = remote.push(PIPELINE('c'));
    engine!.requestCatchUp('acme/web');
    const [raced] = await Promise.all([engine!.handleEvent(push(third)), engine!.catchUpSettled()]);
    await engine!.catchUpSettled();
    const all = await runs();
    expect(all.filter((r) => r.sha === first)).toHaveLength(1);
    expect(all.filter((r) => r.sha === second)).toHaveLength(1);
    expect(all.filter((r) => r.sha === third)).toHaveLength(1);
    expect(raced.runIds.length + (all.find((r) => r.sha === third)?.triggeredBy === CATCH_UP_ACTOR ? 1 : 0)).toBe(1);
  });
});

describe('pull request heads (refs/pull/<n>/head, as GitHub lists them)', () => {
  it('are caught up as pull_request events against the base last seen in a webhook, else the default branch', async () => {
    await start(config());
    const head = remote.push(PIPELINE('pr'), 'fix');
    execFileSync('git', ['-C', remote.work, 'push', '-q', 'origin', `${head}:refs/pull/7/head`]);
    engine!.requestCatchUp('acme/web');
    await engine!.catchUpSettled();
    const pr = (await runs()).find((r) => r.event === 'pull_request');
    expect(pr).toMatchObject({ prNumber: 7, sha: head, branch: 'pull/7/head', triggeredBy: CATCH_UP_ACTOR });
    expect(baseBranchOf(pr!.id)).toBe('main');

    // A webhook of pull request #8 told Kiln its base and head branch; its next head is caught up with them.
    const eight = remote.push(PIPELINE('pr8'), 'feature/eight');
    await engine!.handleEvent({ kind: 'pull_request', repo: 'acme/web', prNumber: 8, branch: 'feature/eight', baseBranch: 'develop', sha: eight, ref: 'refs/pull/8/head' });
    execFileSync('git', ['-C', remote.work, 'push', '-q', 'origin', `${eight}:refs/pull/8/head`]);
    engine!.requestCatchUp('acme/web');
    await engine!.catchUpSettled();
    const moved = remote.push(PIPELINE('pr8b'), 'feature/eight');
    execFileSync('git', ['-C', remote.work, 'push', '-q', '-f', 'origin', `${moved}:refs/pull/8/head`]);
    engine!.requestCatchUp('acme/web');
    await engine!.catchUpSettled();
    const caught = (await runs()).find((r) => r.sha === moved && r.event === 'pull_request');
    expect(caught).toMatchObject({ prNumber: 8, branch: 'feature/eight', triggeredBy: CATCH_UP_ACTOR });
    expect(baseBranchOf(caught!.id)).toBe('develop');
  });

  it('take the base branch from the forge when a token is configured, over the last webhook', async () => {
    const forge = await startStandIn({ token: 'ghp_catchup' });
    try {
      await start(config({ forge: { apiUrl: forge.url, token: 'ghp_catchup', jobStatuses: false } }), { forge: { client: { writePaceMs: 1, retries: 0 } } });
      const head = remote.push(PIPELINE('pr9'), 'feature/nine');
      // A webhook once said #9 merges into develop; it was retargeted to release since, as the forge knows.
      await engine!.handleEvent({ kind: 'pull_request', repo: 'acme/web', prNumber: 9, branch: 'feature/nine', baseBranch: 'develop', sha: remote.push(PIPELINE('pr9-old'), 'feature/nine'), ref: 'refs/pull/9/head' });
      forge.pulls.set('acme/web', [{ number: 9, base: 'release', head: 'feature/nine' }]);
      execFileSync('git', ['-C', remote.work, 'push', '-q', '-f', 'origin', `${head}:refs/pull/9/head`]);
      engine!.requestCatchUp('acme/web');
      await engine!.catchUpSettled();
      const caught = (await runs()).find((r) => r.sha === head && r.event === 'pull_request');
      expect(caught).toMatchObject({ prNumber: 9, branch: 'feature/nine', triggeredBy: CATCH_UP_ACTOR });
      expect(baseBranchOf(caught!.id)).toBe('release');
      expect(forge.requests.map((r) => r.op)).toContain('GET /repos/{owner}/{repo}/pulls');
      expect(forge.violations).toEqual([]);

      // The forge unreachable is not a lost push: the head is built against the base last known for #9.
      await forge.close();
      const again = remote.push(PIPELINE('pr9-again'), 'feature/nine');
      execFileSync('git', ['-C', remote.work, 'push', '-q', '-f', 'origin', `${again}:refs/pull/9/head`]);
      engine!.requestCatchUp('acme/web');
      await engine!.catchUpSettled();
      const fallback = (await runs()).find((r) => r.sha === again && r.event === 'pull_request');
      expect(baseBranchOf(fallback!.id)).toBe('release');
      expect(errors.join('\n')).toMatch(/could not list its open pull requests/);
    } finally {
      await forge.close();
    }
  });

  /** The stored base branch (what `on.pull_request.branches` matched), read from the run's row. */
  function baseBranchOf(runId: string): string | null {
    const db = new Database(join(root, 'data', 'kiln.db'), { readonly: true });
    try {
      return (db.prepare('SELECT base_branch FROM runs WHERE id = ?').get(runId) as { base_branch: string | null }).base_branch;
    } finally {
      db.close();
    }
  }
});

describe('when a branch moves back or is deleted', () => {
  it('starts nothing for a force push back to a built commit, nor for a deleted branch', async () => {
    await start(config());
    const built = remote.push(PIPELINE('1'));
    engine!.requestCatchUp('acme/web');
    await engine!.catchUpSettled();
    remote.push(PIPELINE('2'));
    engine!.requestCatchUp('acme/web');
    await engine!.catchUpSettled();
    expect(await runs()).toHaveLength(2);

    remote.forcePush('main', built);
    remote.push(PIPELINE('f'), 'feature');
    engine!.requestCatchUp('acme/web');
    await engine!.catchUpSettled();
    expect(await runs()).toHaveLength(3); // the feature branch only
    remote.deleteBranch('feature');
    engine!.requestCatchUp('acme/web');
    await engine!.catchUpSettled();
    expect(await runs()).toHaveLength(3);
  });
});

describe('when the remote fails', () => {
  it('reports the reason, retries with backoff, logs it once and recovers', async () => {
    await start(config({ webhookSecrets: [], pollIntervalMs: 200 }, { intervalMs: 60_000, clockCheckMs: 100 }));
    await daemon!.stop();
    const failing = await waitFor(async () => {
      const check = (await engine!.health()).refChecks?.[0];
      return check && check.failures >= 2 ? check : undefined;
    }, 'two failed listings');
    expect(failing.result).toBe('failing');
    expect(failing.error).toMatch(/git ls-remote git:\/\/127\.0\.0\.1:\d+\/web\.git failed/);
    expect(failing.nextCheckAt! - failing.lastCheckedAt!).toBe(200 * 2 ** failing.failures);
    expect(errors.filter((e) => e.includes('catch-up of acme/web failed'))).toHaveLength(1);
    await daemon!.restart();
    const sha = remote.push(PIPELINE('back'));
    const run = await waitFor(async () => (await runs()).find((r) => r.sha === sha), 'the run after recovery');
    expect(run.triggeredBy).toBe(CATCH_UP_ACTOR);
    expect((await engine!.health()).refChecks?.[0]).toMatchObject({ result: 'ok', failures: 0 });
  });

  it('does not hold the engine\'s stop while a remote that never answers is being listed', async () => {
    const silent = createNetServer((socket) => socket.on('error', () => {})); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (silent.address() as { port: number }).port;
      engine = await Engine.start({ config: config({ url: `git://127.0.0.1:${port}/web.git` }), dataDir: join(root, 'data'), onError: () => {} });
      await new Promise((r) => setTimeout(r, 300)); // the start-up listing is in flight, waiting
      expect((await engine.health()).refChecks?.[0].result).toBe('pending');
      const t0 = Date.now();
      await engine.stop();
      engine = undefined;
      expect(Date.now() - t0).toBeLessThan(3_000);
    } finally {
      silent.close();
    }
  });

  it('names wrong credentials of an HTTP remote without showing the password', async () => {
    const http = await startHttpBackend(join(root, 'srv'), { username: 'ada', password: 'right' });
    try {
      await start(config({ url: http.url('web'), credentials: { username: 'ada', password: 'wrong-pw' } }));
      const check = (await engine!.health()).refChecks?.[0];
      expect(check).toMatchObject({ result: 'failing', failures: 1 });
      expect(check?.error).toMatch(/ls-remote http:\/\/127\.0\.0\.1:\d+\/web\.git failed/);
      expect(JSON.stringify(check)).not.toContain('wrong-pw');
      await engine!.stop();
      await start(config({ url: http.url('web'), credentials: { username: 'ada', password: 'right' } }));
      const sha = remote.push(PIPELINE('http'));
      engine!.requestCatchUp('acme/web');
      await engine!.catchUpSettled();
      expect((await runs()).map((r) => r.sha)).toEqual([sha]);
    } finally {
      await http.stop();
    }
  });
});

describe('a poll-only repository (no webhook secret)', () => {
  it('builds a push within one poll interval', async () => {
    await start(config({ webhookSecrets: [], pollIntervalMs: 500 }, { intervalMs: 3_600_000, clockCheckMs: 100 }));
    expect((await engine!.health()).refChecks?.[0].mode).toBe('poll');
    const sha = remote.push(PIPELINE('p'));
    const pushedAt = Date.now();
    await waitFor(async () => (await runs()).find((r) => r.sha === sha), 'the polled run');
    expect(Date.now() - pushedAt).toBeLessThan(500 + 100 + 1_000);
  });
});

describe('when the machine sleeps or the tunnel reconnects', () => {
  it('catches up after the clock jumps forward', async () => {
    let offset = 0;
    await start(config({}, { intervalMs: 3_600_000, clockCheckMs: 100 }), { clock: () => Date.now() + offset });
    const sha = remote.push(PIPELINE('sleep'));
    await new Promise((r) => setTimeout(r, 400));
    expect(await runs()).toEqual([]);
    offset += 3_600_000; // an hour asleep: the next check fires "an hour late"
    await waitFor(async () => (await runs()).find((r) => r.sha === sha), 'the run after waking');
  });

  it('catches up when the real smee tunnel reconnects to a local SSE channel after it went down', async () => {
    // A stand-in for smee.io: an SSE channel that can drop its clients and refuse them for a while.
    const clients = new Set<ServerResponse>();
    let refuse = false;
    const channel = createHttpServer((req, res) => {
      if (refuse) { res.writeHead(503).end(); return; }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(': ready\n\n');
      clients.add(res);
      req.on('close', () => clients.delete(res));
    });
    await new Promise<void>((r) => channel.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(channel.address() as { port: number }).port}/channel`;
    const c = { ...config({}, { intervalMs: 3_600_000, clockCheckMs: 100 }), tunnel: { url } };
    await start(c);
    const tunnel = controlTunnel(engine!, { target: 'http://127.0.0.1:9/webhooks/github', logger: { info: () => {}, error: () => {} } });
    try {
      const state = async (s: string) => waitFor(async () => ((await engine!.health()).tunnel.state === s ? true : undefined), `tunnel ${s}`);
      await state('connected');
      await engine!.catchUpSettled();
      refuse = true;
      for (const client of clients) client.destroy();
      await state('error');
      const sha = remote.push(PIPELINE('smee'));
      await new Promise((r) => setTimeout(r, 300));
      expect(await runs()).toEqual([]);
      refuse = false;
      await state('connected');
      await waitFor(async () => (await runs()).find((r) => r.sha === sha), 'the run after the reconnect');
    } finally {
      await tunnel.stop();
      channel.closeAllConnections();
      await new Promise((r) => channel.close(r));
    }
  });

  it('catches up when the tunnel reconnects', async () => {
    await start(config({}, { intervalMs: 3_600_000, clockCheckMs: 100 }));
    engine!.setTunnelState({ state: 'connected', url: 'https://smee.io/x', since: Date.now() });
    await engine!.catchUpSettled();
    engine!.setTunnelState({ state: 'error', url: 'https://smee.io/x', message: 'down', since: Date.now() });
    const sha = remote.push(PIPELINE('tunnel'));
    engine!.setTunnelState({ state: 'connected', url: 'https://smee.io/x', since: Date.now() });
    await engine!.catchUpSettled();
    expect((await runs()).map((r) => r.sha)).toEqual([sha]);
  });
});

describe('a late webhook redelivery', () => {
  /** A signed push delivery as GitHub redelivers it: the original body, pushed an hour ago. */
  function delivery(sha: string, id: string): { headers: Record<string, string>; body: Buffer } {
    const body = Buffer.from(JSON.stringify({
      ref: 'refs/heads/main', after: sha, repository: { full_name: 'acme/web', pushed_at: Math.floor(Date.now() / 1000) - 3600 }, sender: { login: 'ada' },
    }));
    return { body, headers: { 'x-github-event': 'push', 'x-github-delivery': id, 'x-hub-signature-256': signGithub('s3cret', body), 'content-type': 'application/json' } };
  }

  it('builds a head first seen (never built) while Kiln was away, once, and only if it is still the head', async () => {
    const unbuilt = remote.push(PIPELINE('away'));
    await start(config()); // first sight: recorded, not built
    expect(await runs()).toEqual([]);
    const receiver = new WebhookReceiver({ engine: engine! });

    const first = delivery(unbuilt, 'd-1');
    const answer = await receiver.receive(first.headers, first.body);
    expect([answer.status, answer.body.outcome]).toEqual([202, 'accepted']);
    expect(answer.body.reason).toMatch(/^late delivery .*builds refs\/heads\/main at [0-9a-f]{12} if it is still the head and no run has built it$/);
    await engine!.catchUpSettled();
    expect((await runs()).map((r) => [r.sha, r.triggeredBy])).toEqual([[unbuilt, CATCH_UP_ACTOR]]);

    // Replayed: refused by the replay guard. An outdated head: listed, not built.
    expect((await receiver.receive(first.headers, first.body)).status).toBe(409);
    const newer = remote.push(PIPELINE('newer'));
    await engine!.stop();
    await start(config());
    expect((await runs()).map((r) => r.sha)).toContain(newer);
    const outdated = delivery(unbuilt.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')), 'd-2');
    expect((await new WebhookReceiver({ engine: engine! }).receive(outdated.headers, outdated.body)).status).toBe(202);
    await engine!.catchUpSettled();
    expect(await runs()).toHaveLength(2);
  });
});

describe('when Kiln is killed -9 in the middle of a catch-up', () => {
  let compiled: CompiledEngine | undefined;
  beforeAll(() => {
    compiled = compiledEngine('catch-up-crash');
  }, 180_000);
  afterAll(() => compiled?.dispose());

  it('builds every missed head exactly once after the restart: heads and runs were stored together', async () => {
    const c = config();
    await start(c);
    await engine!.stop();
    engine = undefined;
    const shas = Array.from({ length: 12 }, (_, i) => remote.push(PIPELINE(`k${i}`), `topic/${i}`));
    writeFileSync(join(root, 'config.json'), JSON.stringify(c));
    const child = spawn(process.execPath, [resolve('test/engine/catch-up-child.mjs'), compiled!.dir, join(root, 'config.json'), join(root, 'data')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((r) => child.once('exit', r));
    // Killed as soon as the first run is stored: the pass is still writing the others.
    await new Promise<void>((r, reject) => {
      const timer = setTimeout(() => reject(new Error('the child stored no run')), 60_000);
      createInterface({ input: child.stdout! }).once('line', () => { clearTimeout(timer); r(); });
    });
    child.kill('SIGKILL');
    await exited;
    const db = new Database(join(root, 'data', 'kiln.db'), { readonly: true });
    const before = db.prepare("SELECT COUNT(*) AS n FROM runs WHERE triggered_by = 'kiln catch-up'").get() as { n: number };
    const headsWithoutRun = db.prepare(`SELECT COUNT(*) AS n FROM ref_heads h WHERE h.ref LIKE 'refs/heads/topic/%'
      AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.repo = h.repo AND r.ref = h.ref AND r.sha = h.sha)`).get() as { n: number };
    db.close();
    expect(before.n).toBeGreaterThan(0);
    expect(headsWithoutRun.n).toBe(0); // no head is recorded as seen without its run

    await start(c);
    const all = await runs();
    for (const sha of shas) expect(all.filter((r) => r.sha === sha)).toHaveLength(1);
    expect(all).toHaveLength(12);
  });
});
