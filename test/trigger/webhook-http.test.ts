import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EngineEvent } from '../../shared/api/engine-api.js';
import type { DeliveryRecord, RunSummary } from '../../shared/model/run.js';
import { startServer } from '../../src-main/http/app.js';
import type { RunningServer } from '../../src-main/http/app.js';
import { signGithub } from '../../src-main/trigger/signature.js';
import { pipelineOf, startFakeEngine, type Engine, type FakeEngine } from '../helpers/fake-engine.js';
import { deliver, eventTimeOf, fixture, rawPost } from './helpers/deliver.js';

const SECRET = 'new-secret';
const OLD_SECRET = 'old-secret';

/**
 * The real Engine behind the receiver. The fixtures' commits do not exist locally, so each accepted
 * delivery becomes a run that fails at once with "could not read .kiln.yml" — no container starts,
 * and the run record shows what the receiver handed the engine.
 */
describe('POST /webhooks/github', () => {
  let kiln: FakeEngine;
  let engine: Engine;
  let server: RunningServer;
  let clock = 0;
  const published: EngineEvent[] = [];

  beforeEach(async () => {
    published.length = 0;
    const url = join(tmpdir(), `kiln-webhook-not-cloned-${randomUUID()}.git`);
    kiln = await startFakeEngine({
      extraRepositories: [
        { name: 'Codertocat/Hello-World', url, webhookSecrets: [SECRET, OLD_SECRET] },
        { name: 'ailisp/gcbapp-buildconfig-example', url, webhookSecrets: [SECRET], rateLimitPerMinute: 2 },
        { name: 'bradrydzewski/drone-test-go', url, webhookSecrets: [SECRET] },
        { name: 'Octocoders/Hello-World', url, webhookSecrets: [SECRET] },
      ],
      config: { webhooks: { maxAgeMs: 5 * 60_000, replayWindowMs: 3 * 86_400_000, maxBodyBytes: 64 * 1024 } },
      options: { onError: () => {} },
    });
    engine = kiln.engine;
    engine.subscribe((e) => published.push(e));
    server = await startServer({ engine, port: 0, now: () => clock });
  });

  afterEach(async () => {
    await server.close();
    await kiln.close();
  });

  /** The runs the engine created, oldest first. */
  async function runs(): Promise<RunSummary[]> {
    return (await engine.listRuns({ limit: 200 })).items.reverse();
  }

  /** Sets the clock just after the fixture's signed event time, as if GitHub had just sent it. */
  function freshFor(body: Buffer): void {
    clock = eventTimeOf(body) + 2_000;
  }

  describe('with a correctly signed push to a branch', () => {
    it('answers 202 with the run ids and hands the engine a push event with commit and author', async () => {
      const body = fixture('github/push.branch-commits.json');
      freshFor(body);
      const answer = await deliver(server.url, { event: 'push', body, secret: SECRET });
      expect(answer.status).toBe(202);
      expect(answer.json.outcome).toBe('accepted');
      expect(answer.json.runIds).toHaveLength(1);
      const run = await engine.getRun(answer.json.runIds[0]);
      expect(run).toMatchObject({
        event: 'push', repo: 'ailisp/gcbapp-buildconfig-example', branch: 'master',
        sha: 'a21683865c088b5fe1906cf6552d15a285a4986d',
        commitMessage: 'Merge pull request #3 from byao1276/byao1276-patch-1\n\nByao1276 patch 1',
        commitAuthor: 'Bo Yao', triggeredBy: 'ailisp',
      });
      expect(await runs()).toHaveLength(1);
    });

    it('records the delivery and publishes it as a delivery event', async () => {
      const body = fixture('github/push.branch-created.json');
      freshFor(body);
      const id = randomUUID();
      await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: id });
      const list = (await (await fetch(`${server.url}/api/deliveries`)).json()) as DeliveryRecord[];
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({ deliveryId: id, event: 'push', repo: 'Codertocat/Hello-World', outcome: 'accepted', httpStatus: 202 });
      expect(published.filter((e) => e.type === 'delivery')).toHaveLength(1);
    });

    it('accepts a body signed with an older secret of the repository (rotation)', async () => {
      const body = fixture('github/push.branch-created.json');
      freshFor(body);
      const answer = await deliver(server.url, { event: 'push', body, secret: OLD_SECRET });
      expect(answer.status).toBe(202);
      expect((await runs())[0]).toMatchObject({ event: 'push', branch: 'master', sha: '6113728f27ae82c7b1a177c8d03f9e96e0adf246', triggeredBy: 'Codertocat' });
    });

    it('accepts header names in any letter case', async () => {
      const body = fixture('github/push.branch-created.json');
      freshFor(body);
      const answer = await rawPost(server.url, '/webhooks/github', {
        'Content-Type': 'application/json',
        'X-GITHUB-EVENT': 'push',
        'x-GitHub-Delivery': randomUUID(),
        'X-Hub-Signature-256': `sha256=${signGithub(SECRET, body).slice(7).toUpperCase()}`,
      }, body);
      expect(answer.status).toBe(202);
      expect(await runs()).toHaveLength(1);
    });
  });

  describe('with a bad signature', () => {
    const body = fixture('github/push.branch-created.json');
    const cases: [string, string | null][] = [
      ['missing', null],
      ['signed with another secret', signGithub('not-the-secret', body)],
      ['garbled (not hex)', 'sha256=zz' + 'a'.repeat(62)],
      ['garbled (truncated)', signGithub(SECRET, body).slice(0, 40)],
      ['garbled (no sha256= prefix)', signGithub(SECRET, body).slice('sha256='.length)],
      ['for other bytes (a trailing newline)', signGithub(SECRET, Buffer.concat([body, Buffer.from('\n')]))],
      ['sha1 instead of sha256', 'sha1=' + 'a'.repeat(40)],
    ];
    for (const [name, signature] of cases) {
      it(`rejects a ${name} signature with 401 and starts nothing`, async () => {
        freshFor(body);
        const answer = await deliver(server.url, { event: 'push', body, signature });
        expect(answer.status).toBe(401);
        expect(answer.json.outcome).toBe('rejected');
        expect(await runs()).toHaveLength(0);
        const [record] = await engine.listDeliveries();
        expect(record).toMatchObject({ outcome: 'rejected', httpStatus: 401 });
        expect(record.reason).toMatch(/signature/);
      });
    }
  });

  describe('replay protection', () => {
    it('rejects a second delivery with the same delivery id with 409', async () => {
      const body = fixture('github/push.branch-created.json');
      freshFor(body);
      const id = randomUUID();
      expect((await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: id })).status).toBe(202);
      const again = await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: id });
      expect(again.status).toBe(409);
      expect(again.json.reason).toMatch(/already processed/);
      expect(await runs()).toHaveLength(1);
    });

    it('rejects the same signed body under a new delivery id with 409', async () => {
      const body = fixture('github/push.branch-created.json');
      freshFor(body);
      expect((await deliver(server.url, { event: 'push', body, secret: SECRET })).status).toBe(202);
      const replay = await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: randomUUID() });
      expect(replay.status).toBe(409);
      expect(replay.json.reason).toMatch(/identical signed body/);
      expect(await runs()).toHaveLength(1);
    });

    it('does not build a delivery older than five minutes from its payload: it asks catch-up to check the remote (202), once', async () => {
      const body = fixture('github/push.branch-created.json');
      clock = eventTimeOf(body) + 5 * 60_000 + 1_000;
      const id = randomUUID();
      const answer = await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: id });
      expect(answer.status).toBe(202);
      expect(answer.json.reason).toMatch(/^late delivery \(the signed event time .* is 301 s old \(limit 300 s\)\): not built from its payload; Kiln lists .*remote heads now/);
      expect(answer.json.runIds).toEqual([]);
      expect(await runs()).toHaveLength(0);
      // Replay protection stays: the same delivery, or the same body under a new id, asks no second time.
      expect((await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: id })).status).toBe(409);
      expect((await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: randomUUID() })).status).toBe(409);
    });

    it('still refuses a delivery dated in the future with 400', async () => {
      const body = fixture('github/push.branch-created.json');
      clock = eventTimeOf(body) - 10 * 60_000;
      const answer = await deliver(server.url, { event: 'push', body, secret: SECRET });
      expect(answer.status).toBe(400);
      expect(answer.json.reason).toMatch(/in the future/);
    });

    it('checks the pull request updated_at of pull_request deliveries', async () => {
      const body = fixture('github/pull_request.opened.json');
      clock = Date.parse('2019-05-15T15:20:33Z') + 6 * 60_000;
      const late = await deliver(server.url, { event: 'pull_request', body, secret: SECRET });
      expect([late.status, late.json.runIds]).toEqual([202, []]);
      expect(late.json.reason).toMatch(/^late delivery/);
      clock = Date.parse('2019-05-15T15:20:33Z') + 4 * 60_000;
      const fresh = await deliver(server.url, { event: 'pull_request', body, secret: SECRET, deliveryId: randomUUID() });
      expect(fresh.status).toBe(409); // the same signed body: already processed as the late delivery
    });
  });

  describe('bad requests', () => {
    it('rejects a body over webhooks.maxBodyBytes with 413 and records it', async () => {
      // A real payload padded with JSON whitespace to 100 KB, over the 64 KB limit of this test.
      const body = Buffer.concat([fixture('github/pull_request.opened.json'), Buffer.alloc(100 * 1024, ' ')]);
      freshFor(body);
      const answer = await deliver(server.url, { event: 'pull_request', body, secret: SECRET });
      expect(answer.status).toBe(413);
      expect(await runs()).toHaveLength(0);
      const [record] = await engine.listDeliveries();
      expect(record).toMatchObject({ httpStatus: 413, outcome: 'rejected', event: 'pull_request' });
    });

    it('answers 404 for a repository that is not configured, and records it', async () => {
      const body = fixture('github/push.tag-created.json');
      const other = Buffer.from(body.toString('utf8').replaceAll('Codertocat/Hello-World', 'someone/else'));
      freshFor(other);
      const answer = await deliver(server.url, { event: 'push', body: other, secret: SECRET });
      expect(answer.status).toBe(404);
      expect(answer.json.reason).toMatch(/unknown repository 'someone\/else'/);
      expect((await engine.listDeliveries())[0]).toMatchObject({ repo: 'someone/else', httpStatus: 404 });
    });

    it('answers 400 for malformed JSON, even when correctly signed', async () => {
      const body = Buffer.from(fixture('github/push.branch-created.json').toString('utf8').slice(0, 500));
      const answer = await deliver(server.url, { event: 'push', body, secret: SECRET });
      expect(answer.status).toBe(400);
      expect(answer.json.reason).toMatch(/malformed payload/);
    });

    it('answers 400 without the X-GitHub-Event header', async () => {
      const body = fixture('github/push.branch-created.json');
      const answer = await rawPost(server.url, '/webhooks/github', { 'Content-Type': 'application/json', 'X-GitHub-Delivery': 'x1', 'X-Hub-Signature-256': signGithub(SECRET, body) }, body);
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body).reason).toMatch(/X-GitHub-Event/);
    });
  });

  describe('events', () => {
    it('turns a tag push into a tag event', async () => {
      const body = fixture('github/push.tag-created.go-scm.json');
      freshFor(body);
      expect((await deliver(server.url, { event: 'push', body, secret: SECRET })).status).toBe(202);
      const [run] = await runs();
      expect(run).toMatchObject({ event: 'tag', tag: 'v0.0.1', sha: 'd2b75aa7797ec26b088fa2dd527e9d2c052fcedd', repo: 'bradrydzewski/drone-test-go' });
      expect(run.branch).toBeUndefined();
    });

    it('starts nothing for a deleted branch, and records the delivery as ignored', async () => {
      const body = fixture('github/push.branch-deleted.json');
      freshFor(body);
      const answer = await deliver(server.url, { event: 'push', body, secret: SECRET });
      expect(answer.status).toBe(202);
      expect(answer.json).toMatchObject({ outcome: 'ignored', runIds: [] });
      expect(answer.json.reason).toMatch(/branch 'feature-branch' was deleted/);
      expect(await runs()).toHaveLength(0);
    });

    it('starts nothing for a deleted tag', async () => {
      const body = fixture('github/push.tag-deleted.json');
      freshFor(body);
      const answer = await deliver(server.url, { event: 'push', body, secret: SECRET });
      expect(answer.json.outcome).toBe('ignored');
      expect(await runs()).toHaveLength(0);
    });

    it('turns an opened pull request into a pull_request event with head, base, number and title', async () => {
      const body = fixture('github/pull_request.opened.json');
      freshFor(body);
      expect((await deliver(server.url, { event: 'pull_request', body, secret: SECRET })).status).toBe(202);
      expect((await runs())[0]).toMatchObject({
        event: 'pull_request', repo: 'Codertocat/Hello-World', branch: 'changes',
        sha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821', prNumber: 2,
        prTitle: 'Update the README with new information.', triggeredBy: 'Codertocat',
      });
    });

    it('runs a synchronized pull request and ignores a closed one', async () => {
      const sync = fixture('github/pull_request.synchronize.json');
      freshFor(sync);
      expect((await deliver(server.url, { event: 'pull_request', body: sync, secret: SECRET })).json.outcome).toBe('accepted');
      const closed = fixture('github/pull_request.closed-unmerged.json');
      freshFor(closed);
      const answer = await deliver(server.url, { event: 'pull_request', body: closed, secret: SECRET });
      expect(answer.json.outcome).toBe('ignored');
      expect(answer.json.reason).toMatch(/closed/);
      expect(await runs()).toHaveLength(1);
    });

    it('answers a signed ping with 200', async () => {
      const body = fixture('github/ping.json');
      const answer = await deliver(server.url, { event: 'ping', body, secret: SECRET });
      expect(answer.status).toBe(200);
      expect(answer.json.reason).toMatch(/Anything added dilutes everything else/);
      expect(await runs()).toHaveLength(0);
    });

    it('ignores other events with a reason', async () => {
      const body = fixture('github/create.tag.json');
      const answer = await deliver(server.url, { event: 'create', body, secret: SECRET });
      expect(answer.status).toBe(202);
      expect(answer.json).toMatchObject({ outcome: 'ignored' });
      expect(answer.json.reason).toMatch(/event 'create' does not start runs/);
    });
  });

  describe('rate limiting', () => {
    it('answers 429 with Retry-After over the repository\'s rate, enqueues nothing, and lets the delivery through later', async () => {
      // ailisp/gcbapp-buildconfig-example allows 2 triggers per minute in this test.
      const base = fixture('github/push.branch-commits.json');
      freshFor(base);
      const variant = (n: number): Buffer => Buffer.from(base.toString('utf8').replaceAll('Byao1276 patch 1"', `Byao1276 patch ${n}"`));
      expect((await deliver(server.url, { event: 'push', body: variant(1), secret: SECRET })).status).toBe(202);
      expect((await deliver(server.url, { event: 'push', body: variant(2), secret: SECRET })).status).toBe(202);
      const id = randomUUID();
      const limited = await deliver(server.url, { event: 'push', body: variant(3), secret: SECRET, deliveryId: id });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBe(30);
      expect(await runs()).toHaveLength(2);
      clock += 30_000;
      const later = await deliver(server.url, { event: 'push', body: variant(3), secret: SECRET, deliveryId: id });
      expect(later.status).toBe(202);
      expect(await runs()).toHaveLength(3);
    });
  });
});

/**
 * The receiver's answers to an engine that fails or starts nothing: the real Engine over a local
 * repository whose pipeline runs on pushes to main only. The fixture's commit is not in it (a run
 * that fails at once is stored); the engine fails for real when its database refuses to store runs.
 */
describe('POST /webhooks/github when the engine fails or starts nothing', () => {
  let kiln: FakeEngine;
  let engine: Engine;
  let server: RunningServer;
  let clock = 0;

  beforeEach(async () => {
    kiln = await startFakeEngine({
      repos: { 'Codertocat/Hello-World': { main: pipelineOf({ build: ['say-hello'] }, '  push: { branches: [main] }\n') } },
      configure: () => ({ webhookSecrets: [SECRET] }),
      options: { onError: () => {} },
    });
    engine = kiln.engine;
    server = await startServer({ engine, port: 0, now: () => clock });
  });

  afterEach(async () => {
    await server.close();
    await kiln.close();
  });

  /** The id of the one run the engine has stored. */
  async function onlyRunId(): Promise<string> {
    const { items } = await engine.listRuns({});
    if (items.length !== 1) throw new Error(`expected one stored run, found ${items.length}`);
    return items[0].id;
  }

  /** Runs SQL on the engine's database file over a connection of the test's own. */
  function onEngineDatabase(sql: string): void {
    const db = new Database(join(engine.dataDir, 'kiln.db'));
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
  }

  function freshFor(body: Buffer): void {
    clock = eventTimeOf(body) + 2_000;
  }

  it('accepts GitHub\'s redelivery (same id) of a delivery it had rejected, and then refuses a third copy', async () => {
    const body = fixture('github/push.branch-created.json');
    freshFor(body);
    const id = randomUUID();
    // The engine's database refuses to store runs (a real SQLite error inside its write), then recovers.
    onEngineDatabase("CREATE TRIGGER refuse_runs BEFORE INSERT ON runs BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    const failed = await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: id });
    expect(failed.status).toBe(500);
    onEngineDatabase('DROP TRIGGER refuse_runs');
    const redelivered = await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: id });
    expect(redelivered.status).toBe(202);
    expect(redelivered.json.runIds).toEqual([await onlyRunId()]);
    expect((await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: id })).status).toBe(409);
  });

  it('refuses a copy of a delivery that arrives while the first is still being processed, and remembers the first', async () => {
    const body = fixture('github/push.branch-created.json');
    freshFor(body);
    const id = randomUUID();
    let calls = 0;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // The real handleEvent, held at its start until the test opens the gate.
    const handleEvent = engine.handleEvent.bind(engine);
    vi.spyOn(engine, 'handleEvent').mockImplementation(async (...args) => {
      calls++;
      await gate;
      return handleEvent(...args);
    });
    const first = deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: id });
    while (calls === 0) await new Promise((r) => setTimeout(r, 5));
    const copy = await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: id });
    expect(copy.status).toBe(409);
    expect(copy.json.reason).toMatch(/already processed/);
    const sameBody = await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: randomUUID() });
    expect(sameBody.status).toBe(409);
    open();
    expect((await first).status).toBe(202);
    expect(calls).toBe(1);
    // Processed: remembered in the database, so later copies stay refused.
    expect((await deliver(server.url, { event: 'push', body, secret: SECRET, deliveryId: id })).status).toBe(409);
    expect(calls).toBe(1);
  });

  it('records an event the pipeline triggers do not match as ignored, with the engine\'s reason', async () => {
    // A push of a commit the repository has, to a branch (master) its pipeline does not run on.
    const push = JSON.parse(fixture('github/push.branch-created.json').toString('utf8')) as { after: string; head_commit: { id: string } };
    push.after = push.head_commit.id = kiln.headOf('Codertocat/Hello-World', 'main');
    const body = Buffer.from(JSON.stringify(push));
    freshFor(body);
    const answer = await deliver(server.url, { event: 'push', body, secret: SECRET });
    expect(answer.status).toBe(202);
    expect(answer.json).toMatchObject({ outcome: 'ignored', reason: "the pipeline's triggers (on:) do not match this push event" });
  });
});
