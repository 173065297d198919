import { describe, expect, it } from 'vitest';
import { cronProblem, nextCronTime } from './cron.js';

const at = (iso: string) => Date.parse(iso);

describe('the next time of a schedule', () => {
  // Examples from GitHub's "Events that trigger workflows" (schedule) and crontab(5), with the
  // times worked out by hand from the field rules.
  const cases: Array<{ cron: string; zone?: string; after: string; next: string; why: string }> = [
    { cron: '30 5,17 * * *', zone: 'UTC', after: '2026-03-01T06:00:00Z', next: '2026-03-01T17:30:00Z', why: "GitHub's docs: 05:30 and 17:30 every day" },
    { cron: '*/15 * * * *', zone: 'UTC', after: '2026-03-01T10:07:00Z', next: '2026-03-01T10:15:00Z', why: 'every 15 minutes' },
    { cron: '30 3 * * 1-5', zone: 'UTC', after: '2026-12-07T03:30:00Z', next: '2026-12-08T03:30:00Z', why: 'strictly after: the same slot is not next' },
    { cron: '30 3 * * 1-5', zone: 'Europe/Paris', after: '2026-12-05T12:00:00Z', next: '2026-12-07T02:30:00Z', why: 'Saturday → Monday 03:30 in Paris (UTC+1)' },
    { cron: '0 9 * * MON', zone: 'UTC', after: '2026-12-06T12:00:00Z', next: '2026-12-07T09:00:00Z', why: 'day names' },
    { cron: '0 0 1 1 *', zone: 'UTC', after: '2026-06-01T00:00:00Z', next: '2027-01-01T00:00:00Z', why: 'yearly' },
    { cron: '0 0 13 * 5', zone: 'UTC', after: '2026-01-01T00:00:00Z', next: '2026-01-02T00:00:00Z', why: 'crontab(5): the 13th OR a Friday' },
    { cron: '0 12 * * *', zone: 'America/New_York', after: '2026-07-01T00:00:00Z', next: '2026-07-01T16:00:00Z', why: 'noon in New York in summer (UTC-4)' },
    { cron: '30 2 * * *', zone: 'Europe/Paris', after: '2026-03-28T12:00:00Z', next: '2026-03-29T01:00:00Z', why: '02:30 does not exist on the spring-forward night: the first time after the gap (03:00)' },
  ];
  for (const c of cases) {
    it(`is ${c.next} for '${c.cron}' in ${c.zone} after ${c.after} (${c.why})`, () => {
      expect(new Date(nextCronTime(c.cron, c.zone, at(c.after)) ?? 0).toISOString()).toBe(new Date(c.next).toISOString());
    });
  }
});

/** Every time the schedule runs in (`from`, `to`], as ISO strings. */
function runsBetween(cron: string, zone: string, from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = nextCronTime(cron, zone, at(from)); t !== undefined && t <= at(to); t = nextCronTime(cron, zone, t)) out.push(new Date(t).toISOString());
  return out;
}

describe('a schedule on the nights the clocks change', () => {
  // Paris, 2026: 29 March 02:00 CET (UTC+1) jumps to 03:00 CEST (UTC+2); 25 October 03:00 CEST falls
  // back to 02:00 CET, so 02:00–02:59 happens twice (00:00–00:59Z, then 01:00–01:59Z).
  const cases: Array<{ cron: string; from: string; to: string; runs: string[]; why: string }> = [
    { cron: '0,30 2 * * *', from: '2026-10-24T12:00:00Z', to: '2026-10-25T12:00:00Z', runs: ['2026-10-25T00:00:00.000Z', '2026-10-25T00:30:00.000Z'], why: 'fall-back: 02:00 and 02:30 each run once, the first time they occur' },
    { cron: '*/30 2 * * *', from: '2026-10-24T12:00:00Z', to: '2026-10-25T12:00:00Z', runs: ['2026-10-25T00:00:00.000Z', '2026-10-25T00:30:00.000Z'], why: 'fall-back: a step in the minutes with a fixed hour is not an hourly schedule' },
    { cron: '30 2 * * *', from: '2026-10-25T00:45:00Z', to: '2026-10-26T12:00:00Z', runs: ['2026-10-26T01:30:00.000Z'], why: 'fall-back: after the first 02:30, the second is not run; the next is the following night' },
    { cron: '15 1,3 * * *', from: '2026-10-24T12:00:00Z', to: '2026-10-25T12:00:00Z', runs: ['2026-10-24T23:15:00.000Z', '2026-10-25T02:15:00.000Z'], why: 'fall-back: times outside the repeated hour are untouched' },
    { cron: '*/30 * * * *', from: '2026-10-24T23:45:00Z', to: '2026-10-25T02:00:00Z', runs: ['2026-10-25T00:00:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T01:30:00.000Z', '2026-10-25T02:00:00.000Z'], why: 'fall-back: an hourly schedule (hour *) keeps its pace through the repeated hour' },
    { cron: '0,30 2 * * *', from: '2026-03-28T12:00:00Z', to: '2026-03-29T12:00:00Z', runs: ['2026-03-29T01:00:00.000Z'], why: 'spring-forward: 02:00 and 02:30 do not exist; they run once, at 03:00 CEST' },
    { cron: '*/30 2 * * *', from: '2026-03-28T12:00:00Z', to: '2026-03-30T12:00:00Z', runs: ['2026-03-29T01:00:00.000Z', '2026-03-30T00:00:00.000Z', '2026-03-30T00:30:00.000Z'], why: 'spring-forward: once after the gap, then the usual two the next night' },
    { cron: '0 3 * * *', from: '2026-03-28T12:00:00Z', to: '2026-03-29T12:00:00Z', runs: ['2026-03-29T01:00:00.000Z'], why: 'spring-forward: 03:00 exists and runs as usual' },
    { cron: '*/30 * * * *', from: '2026-03-29T00:15:00Z', to: '2026-03-29T01:45:00Z', runs: ['2026-03-29T00:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T01:30:00.000Z'], why: 'spring-forward: an hourly schedule goes on by the clock' },
  ];
  for (const c of cases) {
    it(`runs '${c.cron}' in Europe/Paris at ${c.runs.join(', ')} (${c.why})`, () => {
      expect(runsBetween(c.cron, 'Europe/Paris', c.from, c.to)).toEqual(c.runs);
    });
  }

  it('runs an every-minute schedule each minute of the fall-back day, 25 hours of them', () => {
    const runs = runsBetween('* * * * *', 'Europe/Paris', '2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z');
    expect(runs.length).toBe(25 * 60);
    expect(new Set(runs).size).toBe(runs.length);
  });
});

describe('a cron expression that cannot be used', () => {
  const cases: Array<{ cron: string; zone?: string; says: string }> = [
    { cron: '61 * * * *', says: 'not a valid cron expression: Invalid value for minute: 61' },
    { cron: '* * * *', says: "has 4 fields; a schedule has five" },
    { cron: '0 0 * * * *', says: 'has 6 fields' },
    { cron: '0 3 * * *', zone: 'Mars/Base', says: "'Mars/Base' is not a time zone" },
  ];
  for (const c of cases) {
    it(`is reported for '${c.cron}'${c.zone ? ` in ${c.zone}` : ''}`, () => {
      expect(cronProblem(c.cron, c.zone)).toContain(c.says);
    });
  }
  it('is not reported for a good expression', () => {
    expect(cronProblem('30 3 * * 1-5', 'Europe/Paris')).toBeUndefined();
  });
});
