/** Display helpers shared by the views. Pure functions, unit-tested. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function relativeTime(at: number | undefined, now = Date.now()): string {
  if (at === undefined) return '—';
  const d = Math.max(0, now - at) / 1000;
  if (d < 45) return 'just now';
  if (d < 3600) return `${Math.round(d / 60)} min ago`;
  if (d < 86400) return `${Math.round(d / 3600)} h ago`;
  return `${Math.round(d / 86400)} d ago`;
}

export function shortSha(sha: string): string {
  return sha.slice(0, 7);
}

/** A running item's duration so far, else its recorded one. */
export function elapsed(item: { startedAt?: number; finishedAt?: number; durationMs?: number }, now = Date.now()): number | undefined {
  if (item.durationMs !== undefined) return item.durationMs;
  if (item.startedAt === undefined) return undefined;
  return (item.finishedAt ?? now) - item.startedAt;
}

export function clockTime(ts: number): string {
  const d = new Date(ts);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** A retention period: whole days or hours read as such ("30 days", "24 hours"). */
export function formatPeriod(ms: number): string {
  const hour = 3_600_000;
  const day = 24 * hour;
  if (ms >= day && ms % day === 0) return `${ms / day} day${ms === day ? '' : 's'}`;
  if (ms >= hour && ms % hour === 0) return `${ms / hour} hour${ms === hour ? '' : 's'}`;
  return formatDuration(ms);
}
