/**
 * How Kiln writes durations and sizes in text a person reads: log lines, CLI output, error messages,
 * commit-status descriptions. One module, so the same quantity reads the same everywhere. (The
 * dashboard's compact table formats are in src-renderer/app/format.ts; kiln.config.yml values are
 * written by settings/config-document.ts.)
 */

/** "850 ms", "1.5 s", "2 min", "2 min 3 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${m} min ${s} s` : `${m} min`;
}

/** A summary's elapsed time, whole seconds: "48 s", "1 min 12 s", "2 h 5 min" (commit-status descriptions, reports). */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/** A measured size, one decimal: "512 B", "12.3 MB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(1)} ${units[i]}`;
}

/** A configured limit, exactly: "8 MiB", "64 KiB", "1000 bytes". */
export function formatLimit(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/**
 * A clock time a reader can act on, in this machine's local time with its offset from UTC:
 * "08:18 UTC", "14:05 UTC+01:00" (never a raw ISO instant in UTC, which reads as the wrong hour).
 */
export function formatClock(at: number): string {
  const d = new Date(at);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const offset = -d.getTimezoneOffset();
  const zone = offset === 0 ? 'UTC' : `UTC${offset > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${pad(d.getHours())}:${pad(d.getMinutes())} ${zone}`;
}

/** "in 30 min (08:18 UTC)": how long until a deadline, and when it falls (formatClock). */
export function formatDeadline(at: number, now: number): string {
  const mins = Math.round((at - now) / 60_000);
  const span = mins < 1 ? 'under a minute' : mins < 60 ? `${mins} min` : `${Math.floor(mins / 60)} h${mins % 60 ? ` ${mins % 60} min` : ''}`;
  return `in ${span} (${formatClock(at)})`;
}
