/**
 * The forge reporter against the GitHub stand-in, over a real SQLite file: what it posts, in what
 * order, how it rides out faults, what it gives up on and says, and that the outbox survives a
 * restart. Runs are given as RunDetail values: these tests are about reporting, not execution
 * (test/forge/engine-reporting.test.ts runs real pipelines on Docker).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunDetail } from '../../shared/model/run.js';
import type { Status } from '../../shared/model/status.js';
import type { RepositoryConfig } from '../../src-main/core/engine-contract.js';
import { createForgeReporter, type ForgeReporter } from '../../src-main/forge/reporter.js';
import { openDatabase, type Db } from '../../src-main/storage/db.js';
import { startStandIn, type StandIn, type StandInOptions } from './github-stand-in.js';

const TOKEN = 'ghp_0123456789abcdefSECRETtoken';
const SHA = 'a'.repeat(40);

let dir: string;
let db: Db | undefined;
let standIn: StandIn | undefined;
let reporters: ForgeReporter[] = [];

afterEach(async () => {
  for (const r of reporters) r.stop();
  reporters = [];
  db?.close();
  db = undefined;
  if (standIn) expect(standIn.violations, 'requests GitHub would refuse').toEqual([]);
  await standIn?.close();
  standIn = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(status: Status, extra: Partial<RunDetail> = {}): RunDetail {
  return {
    id: 'run-1', number: 1, repo: 'acme/web', pipeline: 'web', event: 'push', branch: 'main', sha: SHA, priority: 'normal', status,
    createdAt: 1_000, jobs: [], edges: [], stages: [], ...extra,
  };
}

async function setUp(o: { standIn?: Partial<StandInOptions>; token?: string; jobStatuses?: boolean; apiPath?: string } = {}) {
  dir = mkdtempSync(join(tmpdir(), 'kiln-forge-'));
  db = openDatabase(join(dir, 'kiln.db'));
  standIn = await startStandIn({ token: TOKEN, ...o.standIn });
  const runs = new Map<string, RunDetail>();
  const repo: RepositoryConfig = {
    name: 'acme/web', url: '/dev/null', defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {},
    forge: { apiUrl: standIn.url, token: o.token ?? TOKEN, jobStatuses: o.jobStatuses ?? false },
  };
  const errors: unknown[] = [];
  const make = () => {
    const r = createForgeReporter({
      db: db!, repository: (name) => (name === repo.name ? repo : undefined), getRun: (id) => runs.get(id),
      onError: (m, e) => errors.push([m, e]),
      client: { writePaceMs: 20, retries: 1, retryBaseMs: 10, timeoutMs: 500 }, backoff: { baseMs: 50, maxMs: 200 },
    });
    reporters.push(r);
    r.start();
    return r;
  };
  const reporter = make();
  const publish = (r: RunDetail, to = reporter) => {
    runs.set(r.id, r);
    to.onEvent({ type: 'run', run: r });
  };
  return { reporter, make, publish, repo, errors, s: standIn };
}

async function until<T>(probe: () => T | undefined | false, ms = 10_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('when a pushed run goes from queued to passed', () => {
  it('posts pending, pending and success to kiln/<pipeline> in that order, each once', async () => {
    const { publish, s, reporter } = await setUp();
    publish(run('queued'));
    await until(() => s.statuses.length === 1, 5000, 'queued status');
    publish(run('queued')); // unchanged: nothing new
    publish(run('running', { startedAt: 2_000, jobs: [] }));
    await until(() => s.statuses.length === 2, 5000, 'running status');
    publish(run('passed', { startedAt: 2_000, finishedAt: 74_000 }));
    await until(() => s.statuses.length === 3, 5000, 'three statuses');
    await reporter.idle();
    expect(s.statuses.map((x) => [x.context, x.state, x.description])).toEqual([
      ['kiln/web', 'pending', 'Queued'],
      ['kiln/web', 'pending', 'Running'],
      ['kiln/web', 'success', 'Passed in 1 min 12 s'],
    ]);
    expect(s.statuses.every((x) => x.owner === 'acme' && x.repo === 'web' && x.sha === SHA && x.target_url === undefined)).toBe(true);
    expect(s.requests[0].authorization).toBe(`token ${TOKEN}`);
    expect(reporter.runReporting('run-1')).toMatchObject({ enabled: true, summary: 'statuses posted', statuses: [{ context: 'kiln/web', state: 'success', delivery: 'posted' }] });
  });

  it('posts one status per job under kiln/<pipeline>/<job> when job statuses are on, never naming the branch', async () => {
    const { publish, s } = await setUp({ jobStatuses: true });
    const job = (name: string, status: Status, steps: RunDetail['jobs'][number]['steps'] = []) => ({
      id: `j-${name}`, runId: 'run-1', planId: name, name, matrix: {}, image: 'x', needs: [], status, attempt: 1, steps, startedAt: 10_000, finishedAt: 58_000,
    });
    publish(run('failed', {
      branch: 'feature/x', startedAt: 10_000, finishedAt: 58_000,
      jobs: [job('build', 'passed'), job('test (node 20)', 'failed', [{ index: 0, name: 'Unit', status: 'failed', exitCode: 1 }]), job('deploy', 'skipped')],
    }));
    await until(() => s.statuses.length === 4, 5000, 'four statuses');
    const byContext = Object.fromEntries(s.statuses.map((x) => [x.context, [x.state, x.description]]));
    expect(byContext).toEqual({
      'kiln/web': ['failure', 'Failed: test (node 20) › Unit (exit 1) after 48 s'],
      'kiln/web/build': ['success', 'Passed in 48 s'],
      'kiln/web/test (node 20)': ['failure', 'Failed: Unit (exit 1) after 48 s'],
      'kiln/web/deploy': ['success', 'Skipped'],
    });
    expect(s.statuses.some((x) => x.context.includes('feature'))).toBe(false);
  });

  it('links each status to the run on the public dashboard when one is configured', async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-forge-'));
    db = openDatabase(join(dir, 'kiln.db'));
    standIn = await startStandIn({ token: TOKEN });
    const repo: RepositoryConfig = { name: 'acme/web', url: '/x', defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {}, forge: { apiUrl: standIn.url, token: TOKEN, jobStatuses: false } };
    const r = createForgeReporter({ db, repository: () => repo, getRun: () => run('passed', { durationMs: 5_000 }), publicUrl: () => 'https://kiln.example.vpn/', client: { writePaceMs: 10 } });
    reporters.push(r);
    r.start();
    r.onEvent({ type: 'run', run: run('passed') });
    await until(() => standIn!.statuses.length === 1);
    expect(standIn.statuses[0].target_url).toBe('https://kiln.example.vpn/#/runs/run-1');
  });

  it('posts nothing for a manual run or a repository without a token', async () => {
    const { publish, s, repo, reporter } = await setUp();
    publish(run('passed', { id: 'manual', event: 'manual' }));
    repo.forge = { ...repo.forge!, token: undefined };
    publish(run('passed', { id: 'untokened' }));
    await new Promise((r) => setTimeout(r, 200));
    await reporter.idle();
    expect(s.requests).toEqual([]);
    expect(reporter.runReporting('untokened').summary).toMatch(/no forge token/);
  });
});

describe('when the forge fails for a while', () => {
  it('retries a 500 and a dropped connection and then posts the status once', async () => {
    const { publish, s, reporter } = await setUp();
    s.faults.push({ kind: 'status', status: 500 }, { kind: 'status', status: 500 }, { kind: 'drop' }, { kind: 'status', status: 502 });
    publish(run('passed', { durationMs: 3_000 }));
    await until(() => s.statuses.length === 1, 10_000, 'the status after the faults');
    await reporter.idle();
    expect(s.statuses.map((x) => x.state)).toEqual(['success']);
    expect(s.requests.length).toBe(5);
    expect(reporter.runReporting('run-1').statuses[0]).toMatchObject({ delivery: 'posted' });
  });

  it('waits out a 429 for its Retry-After before trying again', async () => {
    const { publish, s } = await setUp();
    s.faults.push({ kind: 'rate-limit', retryAfterS: 1 });
    publish(run('passed', { durationMs: 3_000 }));
    await until(() => s.statuses.length === 1, 10_000, 'the status after the 429');
    expect(s.requests.length).toBe(2);
    expect(s.requests[1].at - s.requests[0].at).toBeGreaterThanOrEqual(950);
  });

  it('waits out a 403 secondary rate limit for its Retry-After', async () => {
    const { publish, s } = await setUp();
    s.faults.push({ kind: 'secondary-rate-limit', retryAfterS: 1 });
    publish(run('passed', { durationMs: 3_000 }));
    await until(() => s.statuses.length === 1, 10_000, 'the status after the secondary limit');
    expect(s.requests[1].at - s.requests[0].at).toBeGreaterThanOrEqual(950);
  });

  it('gives up on a slow answer after its timeout and posts on a later attempt', async () => {
    const { publish, s, reporter } = await setUp();
    s.faults.push({ kind: 'slow', ms: 1_500 }, { kind: 'slow', ms: 1_500 });
    publish(run('passed', { durationMs: 3_000 }));
    await until(() => reporter.runReporting('run-1').statuses[0]?.reason, 5_000, 'a reason');
    expect(reporter.runReporting('run-1').summary).toMatch(/1 status waiting to be posted \(the forge did not answer in time; trying again\)/);
    await until(() => reporter.runReporting('run-1').statuses[0]?.delivery === 'posted', 10_000, 'posted');
  });

  it('keeps a context in order: a newer status waits for an older one being retried', async () => {
    const { publish, s } = await setUp();
    s.faults.push({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    publish(run('running'));
    await new Promise((r) => setImmediate(r));
    publish(run('passed', { durationMs: 1_000 }));
    await until(() => s.statuses.length === 2, 10_000, 'both statuses');
    expect(s.statuses.map((x) => x.state)).toEqual(['pending', 'success']);
  });
});

describe('when the forge refuses for good', () => {
  it('gives up on 401 with a reason that names the fix and never the token', async () => {
    const { publish, s, reporter, errors } = await setUp({ token: 'ghp_wrongTOKENvalue123' });
    publish(run('passed', { durationMs: 1_000 }));
    await until(() => reporter.runReporting('run-1').statuses[0]?.delivery === 'failed', 5_000, 'given up');
    const state = reporter.runReporting('run-1');
    expect(state.summary).toBe('the forge rejected the token (401): set a new token in Settings');
    expect(s.requests.length).toBe(1);
    expect(JSON.stringify(state)).not.toContain('wrongTOKEN');
    expect(JSON.stringify(reporter.outbox.repoState('acme/web'))).not.toContain('wrongTOKEN');
    expect(JSON.stringify(errors)).not.toContain('wrongTOKEN');
    expect(db!.prepare('SELECT last_error FROM forge_outbox').all()).toEqual([{ last_error: expect.stringContaining('401') }]);
  });

  it('gives up on 403 saying which permission the token needs', async () => {
    const { publish, s, reporter } = await setUp();
    s.faults.push({ kind: 'status', status: 403 });
    publish(run('failed', { durationMs: 1_000 }));
    await until(() => reporter.runReporting('run-1').statuses[0]?.delivery === 'failed', 5_000, 'given up');
    expect(reporter.outbox.repoState('acme/web')).toMatchObject({ ok: false, message: expect.stringContaining('Commit statuses: write') });
    expect(s.requests.length).toBe(1);
  });
});

describe('when Kiln restarts with statuses still to post', () => {
  it('posts them after the restart, from the outbox on disk', async () => {
    const { publish, s, reporter, make } = await setUp();
    s.faults.push({ kind: 'status', status: 500 }, { kind: 'status', status: 500 });
    publish(run('passed', { durationMs: 1_000 }));
    await until(() => s.requests.length >= 2, 5_000, 'the failed attempt');
    reporter.stop();
    expect(reporter.outbox.counts().pending).toBe(1);
    db!.close();
    db = openDatabase(join(dir, 'kiln.db'));
    make();
    await until(() => s.statuses.length === 1, 10_000, 'the status after the restart');
    expect(s.statuses[0].state).toBe('success');
  });
});

describe('on Gitea and Forgejo', () => {
  it('posts to <host>/api/v1 and reads the created status from `status`, not `state`', async () => {
    const { publish, s, reporter } = await setUp({ standIn: { prefix: '/api/v1', flavour: 'gitea' } });
    expect(s.url).toMatch(/\/api\/v1$/);
    publish(run('timed_out', { durationMs: 600_000, jobs: [] }));
    await until(() => s.statuses.length === 1, 5_000, 'the status');
    await reporter.idle();
    expect(s.statuses[0]).toMatchObject({ state: 'failure', description: 'Timed out after 10 min' });
    expect(s.requests[0].path).toBe(`/repos/acme/web/statuses/${SHA}`);
    expect(reporter.runReporting('run-1').statuses[0].delivery).toBe('posted');
    expect(reporter.repositoryReporting({ name: 'acme/web', url: '', defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {}, forge: { apiUrl: s.url, token: TOKEN, jobStatuses: false } }).kind).toBe('gitea');
  });
});

describe('the GitHub stand-in itself', () => {
  it('flags requests GitHub would refuse: an unknown state, a 141-character description, a short SHA, a missing state', async () => {
    standIn = await startStandIn({ token: TOKEN });
    const post = (path: string, body: unknown) => fetch(`${standIn!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `token ${TOKEN}` }, body: JSON.stringify(body) });
    expect((await post(`/repos/a/b/statuses/${SHA}`, { state: 'cancelled', context: 'x' })).status).toBe(422);
    expect((await post(`/repos/a/b/statuses/${SHA}`, { state: 'success', description: 'x'.repeat(141) })).status).toBe(422);
    expect((await post('/repos/a/b/statuses/abc123', { state: 'success' })).status).toBe(422);
    expect((await post(`/repos/a/b/statuses/${SHA}`, { context: 'x' })).status).toBe(422);
    expect((await post(`/repos/a/b/statuses/${SHA}`, { state: 'success', description: 'x'.repeat(140), context: 'kiln/web' })).status).toBe(201);
    expect(standIn.violations).toHaveLength(4);
    expect(standIn.violations.join('\n')).toMatch(/must be equal to one of the allowed values[\s\S]*141 characters[\s\S]*not a full commit SHA[\s\S]*must have required property 'state'/);
    standIn.violations.length = 0;
  });
});
