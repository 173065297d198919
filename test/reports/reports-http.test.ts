/**
 * The Tests and Timing answers over the real HTTP server, from the real engine with the scripted
 * executor (test/helpers/fake-executor.ts): the same JSON the dashboard reads, 404 for an unknown
 * run, 400 for a malformed search.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunTestReport, RunTiming } from '../../shared/model/test-report.js';
import { startApiEngine, type ApiEngine } from '../http/helpers/api-engine.js';

const PIPELINE = `name: ci
on:
  manual: true
jobs:
  unit:
    image: busybox
    reports: { junit: ['reports/'] }
    steps:
      - run: write-junit
`;

describe('GET /api/runs/:id/tests and /timing', () => {
  let w: ApiEngine;
  let runId: string;

  beforeAll(async () => {
    w = await startApiEngine({
      repos: { 'acme/web': { main: PIPELINE } },
      programs: {
        'write-junit': (io) => {
          mkdirSync(join(io.workspace, 'reports'), { recursive: true });
          writeFileSync(join(io.workspace, 'reports', 'junit.xml'), `<testsuite name="cart">
  <testcase classname="cart" name="adds an item" time="0.5"/>
  <testcase classname="cart" name="checkout" time="1.5"><failure message="expected 3, got 2">at cart.test.js:9</failure></testcase>
</testsuite>`);
          return 1;
        },
      },
    });
    runId = await w.trigger('acme/web', 'main');
    await w.waitForRun(runId);
  });
  afterAll(async () => {
    await w?.close();
  });

  it('answers the run’s report: totals, failures, slowest, and the matches of ?q=', async () => {
    const report = await w.getJson<RunTestReport>(`/api/runs/${runId}/tests`);
    expect(report.totals).toEqual({ tests: 2, passed: 1, failed: 1, errored: 0, skipped: 0, durationMs: 2000 });
    expect(report.failures).toEqual([expect.objectContaining({ file: 'reports/junit.xml', name: 'checkout', message: 'expected 3, got 2', output: 'at cart.test.js:9' })]);
    expect(report.slowest.map((c) => c.name)).toEqual(['checkout', 'adds an item']);
    expect(report.matches).toBeUndefined();
    const searched = await w.getJson<RunTestReport>(`/api/runs/${runId}/tests?q=${encodeURIComponent('ADDS an')}`);
    expect(searched.matches?.map((c) => c.name)).toEqual(['adds an item']);
  });

  it('answers the timing of the run’s job on one clock', async () => {
    const timing = await w.getJson<RunTiming>(`/api/runs/${runId}/timing`);
    expect(timing.runId).toBe(runId);
    expect(timing.jobs.map((j) => [j.name, j.status, j.segments.map((s) => s.phase)])).toEqual([
      ['unit', 'failed', ['queued', 'setting_up', 'steps', 'after_steps', 'tearing_down']],
    ]);
  });

  it('answers 404 for an unknown run and 400 for a repeated search parameter', async () => {
    for (const path of ['/api/runs/nope/tests', '/api/runs/nope/timing']) {
      const res = await fetch(`${w.server.url}${path}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: 'NOT_FOUND', message: "run 'nope' does not exist" } });
    }
    const res = await fetch(`${w.server.url}/api/runs/${runId}/tests?q=a&q=b`);
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toMatch(/\bq\b/);
  });
});
