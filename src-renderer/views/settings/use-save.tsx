import { useCallback, useState } from 'react';

export interface SaveState {
  busy: boolean;
  /** The API's message (it names the field, e.g. "repositories[acme/web].url: …"). */
  error: string | undefined;
  notice: string | undefined;
  /** Runs one save; on success shows `done` (or what it makes of the answer) and calls `after` (a reload). Never throws. */
  run<T>(action: () => Promise<T>, done: string | ((result: T) => string), after?: () => void): Promise<boolean>;
  clear(): void;
}

/** One form's save: busy while it runs, the engine's error inline, a short notice when it worked. */
export function useSave(): SaveState {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const run = useCallback(async <T,>(action: () => Promise<T>, done: string | ((result: T) => string), after?: () => void): Promise<boolean> => {
    setBusy(true);
    setError(undefined);
    setNotice(undefined);
    try {
      const result = await action();
      setNotice(typeof done === 'string' ? done : done(result));
      after?.();
      return true;
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  const clear = useCallback(() => { setError(undefined); setNotice(undefined); }, []);
  return { busy, error, notice, run, clear };
}

/** The inline outcome of a form: its error (role=alert) or its notice. */
export function SaveOutcome({ state }: { state: SaveState }) {
  if (state.error) return <p className="form-error" role="alert">{state.error}</p>;
  if (state.notice) return <p className="form-notice" role="status">{state.notice}</p>;
  return null;
}

/** ms → `30d`, `1h30m`, as the configuration file writes durations. */
export function durationText(ms: number): string {
  if (ms % 1000 !== 0) return String(ms);
  let s = ms / 1000;
  let out = '';
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(s / size);
    if (n > 0) out += `${n}${unit}`;
    s -= n * size;
  }
  return out || '0s';
}

/** bytes → `10GiB`, `500MB`, as the configuration file writes sizes. */
export function sizeText(bytes: number): string {
  for (const [unit, size] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['TB', 1e12], ['GB', 1e9], ['MB', 1e6]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
