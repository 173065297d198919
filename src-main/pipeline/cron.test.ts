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
