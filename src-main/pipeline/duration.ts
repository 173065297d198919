/**
 * Durations as written in `.kiln.yml`: `90s`, `15m`, `1h30m`, `30d` — units in descending order,
 * each at most once, whole numbers only. Returns milliseconds, or undefined when malformed or zero.
 */
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m || text.trim() === '') return undefined;
  const [d, h, min, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  const ms = (((d * 24 + h) * 60 + min) * 60 + s) * 1000;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

export const DURATION_HINT = 'use a duration like 90s, 15m, 1h30m or 30d';

export const DEFAULT_JOB_TIMEOUT_MS = 60 * 60 * 1000;
