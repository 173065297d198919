import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import type { EngineEvent } from '../../shared/api/engine-api.js';
import type { KilnClient } from '../api/kiln-client.js';
import { parseRoute, type Route } from './route.js';

export const ClientContext = createContext<KilnClient | null>(null);

export function useClient(): KilnClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useClient outside <ClientContext.Provider>');
  return client;
}

export function useHashRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = (): void => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export interface AsyncState<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/** Loads once per `deps` change; `reload` refetches keeping the old data on screen (no flicker). */
export function useAsync<T>(load: () => Promise<T>, deps: readonly unknown[]): AsyncState<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    loadRef.current().then(
      (data) => { if (live) setState({ data, loading: false }); },
      (error: unknown) => { if (live) setState((s) => ({ data: s.data, error: error instanceof Error ? error : new Error(String(error)), loading: false })); },
    );
    return () => { live = false; };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Subscribes to live engine events for the component's lifetime. */
export function useEngineEvents(listener: (event: EngineEvent) => void): void {
  const client = useClient();
  const ref = useRef(listener);
  ref.current = listener;
  useEffect(() => client.subscribe((e) => ref.current(e)), [client]);
}

/** Calls `fn` when the live event stream opens or comes back after a drop (see KilnClient.onReconnect). */
export function useOnReconnect(fn: () => void): void {
  const client = useClient();
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => client.onReconnect?.(() => ref.current()), [client]);
}

/** Calls `fn` at most once per `ms` (trailing): coalesces bursts of live events into one refetch. */
export function useThrottled(fn: () => void, ms: number): () => void {
  const ref = useRef(fn);
  ref.current = fn;
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  return useCallback(() => {
    if (timer.current !== undefined) return;
    timer.current = setTimeout(() => { timer.current = undefined; ref.current(); }, ms);
  }, [ms]);
}

/** Re-renders every `ms` while `active`: running durations count up. */
export function useTicker(active: boolean, ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [active, ms]);
  return now;
}
