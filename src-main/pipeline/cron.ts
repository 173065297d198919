/**
 * `on.schedule` times: five-field cron (minute hour day-of-month month day-of-week) read by croner,
 * with POSIX cron's rule that a day matches when day-of-month OR day-of-week matches (when both are
 * restricted), as GitHub Actions and Vixie cron do. The time zone is an IANA name; absent means the
 * workstation's local zone. croner is loaded on first use: `kiln validate` of a file without a
 * schedule does not pay for it.
 */
import { createRequire } from 'node:module';
import type { Cron as CronClass } from 'croner';

const requireCjs = createRequire(import.meta.url);
let Cron: typeof CronClass | undefined;

function cronOf(expression: string, timezone?: string): CronClass {
  Cron ??= (requireCjs('croner') as { Cron: typeof CronClass }).Cron;
  return new Cron(expression, { paused: true, mode: '5-part', domAndDow: false, ...(timezone ? { timezone } : {}) });
}

/** Why a cron expression or time zone is not usable, or undefined when it is. */
export function cronProblem(expression: string, timezone?: string): string | undefined {
  const fields = expression.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 5) return `'${expression}' has ${fields.length} field${fields.length === 1 ? '' : 's'}; a schedule has five: minute hour day-of-month month day-of-week, e.g. '30 3 * * 1-5'`;
  if (timezone !== undefined && !validTimeZone(timezone)) return `'${timezone}' is not a time zone: use an IANA name such as 'Europe/Paris' or 'UTC'`;
  try {
    cronOf(expression, timezone);
    return undefined;
  } catch (e) {
    return `'${expression}' is not a valid cron expression: ${(e as Error).message.replace(/^CronPattern: /, '')}`;
  }
}

export function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The workstation's time zone (what a schedule without `timezone` uses). */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The first scheduled time strictly after `after` (epoch ms), or undefined when there is none. */
export function nextCronTime(expression: string, timezone: string | undefined, after: number): number | undefined {
  const next = cronOf(expression, timezone).nextRun(new Date(after));
  return next ? next.getTime() : undefined;
}
