/**
 * on.schedule on the real engine, real git and real Docker, with the schedule clock injected: a
 * schedule fires at its time, once per time, and once (saying so) after a sleep through three times.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startEngine, type EngineFixture } from '../engine/engine-fixture.js';
import { localTimeZone } from '../../src-main/pipeline/cron.js';

let f: EngineFixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

const PIPELINE = `name: nightly
on:
  schedule:
    - cron: '*/15 * * * *'
      timezone: UTC
    - cron: '0 3 * * *'
jobs:
  report:
    image: ${TEST_IMAGE}
    steps:
      - run: echo "scheduled on $KILN_BRANCH by $KILN_EVENT"
`;

describe('a pipeline with on.schedule', () => {
  it('runs at each scheduled time once, and once after the machine slept through three of them', async () => {
    let now = Date.parse('2026-03-02T10:07:00Z');
    f = await startEngine({ options: { scheduleClock: () => now, scheduleCheckMs: 3_600_000 } });
    const engine = f.engine;
    const repo = f.repos[0];
    repo.commit(PIPELINE);
    await engine.schedules.refresh();
    expect(await engine.schedules.check()).toEqual([]); // first sight: nothing before now is run

    const listed = await engine.listSchedules();
    expect(listed).toEqual([
      { repo: 'acme/web', pipeline: 'nightly', cron: '*/15 * * * *', timezone: 'UTC', localTimezone: false, branches: ['main'], nextAt: Date.parse('2026-03-02T10:15:00Z'), lastSlot: now },
      expect.objectContaining({ cron: '0 3 * * *', timezone: localTimeZone(), localTimezone: true }),
    ]);

    now = Date.parse('2026-03-02T10:15:20Z');
    const first = await engine.schedules.check();
    expect(first).toHaveLength(1);
    expect(await engine.schedules.check()).toEqual([]); // the same time never runs twice
    const run1 = await f.waitForRun(first[0], undefined, 90_000);
    expect(run1).toMatchObject({ status: 'passed', event: 'schedule', branch: 'main', triggeredBy: 'kiln schedule' });
    expect(run1.schedule).toEqual({ slot: Date.parse('2026-03-02T10:15:00Z'), missed: 0, note: "scheduled by '*/15 * * * *' for 2 Mar 2026, 10:15 UTC" });
    const log = (await engine.getLog(run1.jobs[0].id, 0)).lines.map((l) => l.text);
    expect(log).toContain('scheduled on main by schedule');

    // Asleep from 10:16 to 11:01: 10:30, 10:45 and 11:00 passed.
    now = Date.parse('2026-03-02T11:01:00Z');
    const woke = await engine.schedules.check();
    expect(woke).toHaveLength(1);
    expect(await engine.schedules.check()).toEqual([]);
    const run2 = await f.waitForRun(woke[0], undefined, 90_000);
    expect(run2.status).toBe('passed');
    expect(run2.schedule).toEqual({
      slot: Date.parse('2026-03-02T11:00:00Z'), missed: 2,
      note: "scheduled by '*/15 * * * *' for 2 Mar 2026, 11:00 UTC; 3 scheduled times passed (the first 2 Mar 2026, 10:30 UTC) while this machine was asleep or Kiln was not running: the schedule runs once now, not once per missed time",
    });
    const runs = (await engine.listRuns({})).items.filter((r) => r.event === 'schedule');
    expect(runs.map((r) => r.id).sort()).toEqual([run1.id, run2.id].sort());
    expect(runs.find((r) => r.id === run2.id)?.schedule?.missed).toBe(2);
    expect((await engine.listSchedules())[0].nextAt).toBe(Date.parse('2026-03-02T11:15:00Z'));
  });

  it('says a single time ran late when it is found more than two minutes after it', async () => {
    let now = Date.parse('2026-03-02T10:07:00Z');
    f = await startEngine({ options: { scheduleClock: () => now, scheduleCheckMs: 3_600_000 } });
    f.repos[0].commit(PIPELINE);
    await f.engine.schedules.refresh();
    await f.engine.schedules.check();
    now = Date.parse('2026-03-02T10:25:00Z');
    const [id] = await f.engine.schedules.check();
    const run = await f.waitForRun(id, undefined, 90_000);
    expect(run.schedule?.note).toBe("scheduled by '*/15 * * * *' for 2 Mar 2026, 10:15 UTC; started 10 min late: this machine was asleep or Kiln was not running at that time");
  });
});
