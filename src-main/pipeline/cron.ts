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

/** Parsed schedules, kept: counting the times a long sleep missed asks the same one many times. */
const parsed = new Map<string, CronClass>();

function cronOf(expression: string, timezone?: string): CronClass {
  Cron ??= (requireCjs('croner') as { Cron: typeof CronClass }).Cron;
  const key = `${timezone ?? ''}\n${expression}`;
  let cron = parsed.get(key);
  if (!cron) {
    cron = new Cron(expression, { paused: true, mode: '5-part', domAndDow: false, ...(timezone ? { timezone } : {}) });
    if (parsed.size >= 200) parsed.clear();
    parsed.set(key, cron);
  }
  return cron;
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

/**
 * The first scheduled time strictly after `after` (epoch ms), or undefined when there is none.
 *
 * A schedule names wall-clock times in its zone, so the daylight-saving nights are decided here
 * rather than left to croner (which skips some times of a spring-forward night and repeats those of
 * a fall-back night): a time that does not exist on the spring-forward night runs once, at the first
 * instant after the gap; a time that occurs twice on the fall-back night runs once, the first time —
 * unless the hour field is `*` (`*\/15 * * * *`): such a schedule runs by the clock through the
 * repeated hour, as Vixie cron runs its wildcard jobs.
 */
export function nextCronTime(expression: string, timezone: string | undefined, after: number): number | undefined {
  const zone = timezone ?? localTimeZone();
  const cron = cronOf(expression, zone);
  const quick = cron.nextRun(new Date(after));
  if (!quick) return undefined;
  const t = quick.getTime();
  // Away from a change of offset croner's answer stands (the common case, and the cheap one).
  if (t - after <= 20 * HOUR) {
    const o = offsetAt(zone, after);
    if (offsetAt(zone, after - 3 * HOUR) === o && offsetAt(zone, t) === o && offsetAt(zone, t + 3 * HOUR) === o) return t;
  }
  return nextByWallClock(cronOf(expression, 'UTC'), zone, after, expression.trim().split(/\s+/)[1]?.startsWith('*') === true);
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Walks the schedule's wall-clock times (croner in UTC reads them) and maps each to its instants in `zone`. */
function nextByWallClock(wall: CronClass, zone: string, after: number, everyHour: boolean): number | undefined {
  const offNow = offsetAt(zone, after);
  const offLater = offsetAt(zone, after + 3 * HOUR);
  const highest = Math.max(offNow, offLater);
  // A fall-back just ahead repeats wall times earlier than `after`'s own: start that much before it.
  let w = after + offNow - Math.max(0, offNow - offLater) - MINUTE;
  let best: number | undefined;
  for (let i = 0; i < 10_000; i++) {
    const next = wall.nextRun(new Date(w));
    if (!next) break;
    w = next.getTime();
    if (best !== undefined && w - highest >= best) break;
    const instants = instantsOf(zone, w);
    for (const at of everyHour ? instants : instants.slice(0, 1)) {
      if (at > after && (best === undefined || at < best)) best = at;
    }
  }
  return best;
}

/**
 * The instants at which the clock in `zone` reads `wall` (a wall-clock time written as UTC epoch
 * ms): one, two on a fall-back night, or — in a spring-forward gap — the instant the gap ends.
 */
function instantsOf(zone: string, wall: number): number[] {
  const offsets = [...new Set([offsetAt(zone, wall - 14 * HOUR), offsetAt(zone, wall + 14 * HOUR)])];
  const found = offsets.map((o) => wall - o).filter((at) => offsetAt(zone, at) === wall - at).sort((a, b) => a - b);
  if (found.length > 0 || offsets.length < 2) return found;
  // In the gap: the offset changes between the two readings; find the minute it does.
  let lo = Math.min(wall - offsets[0], wall - offsets[1]);
  let hi = Math.max(wall - offsets[0], wall - offsets[1]);
  const before = offsetAt(zone, lo);
  while (hi - lo > MINUTE) {
    const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
    if (offsetAt(zone, mid) === before) lo = mid;
    else hi = mid;
  }
  return [hi];
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at `at`, in ms (local wall clock minus UTC). */
function offsetAt(zone: string, at: number): number {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(zone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(at))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const whole = at - (((at % 1000) + 1000) % 1000);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - whole;
}
