import { useCallback, useEffect, useRef, useState } from 'react';
import type { LogMatch } from '../../../shared/api/engine-api.js';
import type { KilnClient } from '../../api/kiln-client.js';

export const SEARCH_LIMIT = 1000;
/** Asked first: a common term's first matches come back long before the whole log is scanned. */
export const FIRST_MATCHES = 100;

export interface LogSearch {
  query: string;
  setQuery: (q: string) => void;
  /** Runs the search now (Enter), instead of after the typing pause. */
  runNow: () => void;
  matches: LogMatch[];
  /** The query the current matches answer (the input may already hold a newer one). */
  resultFor: string;
  /** True while only the first matches are known (the full count is on its way). */
  partial: boolean;
  index: number;
  setIndex: (i: number) => void;
  searching: boolean;
  error: string | undefined;
}

/** Server-side search (the log may be far bigger than what the viewer holds), debounced while typing. */
export function useLogSearch(client: KilnClient, jobId: string): LogSearch {
  const [query, setQuery] = useState('');
  const [matches, setMatches] = useState<LogMatch[]>([]);
  const [resultFor, setResultFor] = useState('');
  const [partial, setPartial] = useState(false);
  const [index, setIndex] = useState(0);
  const [searching, setSearching] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const generation = useRef(0);
  const lastQuery = useRef<string | undefined>(undefined);

  const run = useCallback(async (q: string) => {
    // Enter runs the search at once; the typing pause that follows must not run it a second time.
    if (q === lastQuery.current) return;
    lastQuery.current = q;
    const gen = ++generation.current;
    if (!q) {
      setMatches([]);
      setPartial(false);
      setResultFor('');
      setSearching(false);
      setError(undefined);
      return;
    }
    setSearching(true);
    try {
      const first = await client.searchLog(jobId, q, FIRST_MATCHES);
      if (gen !== generation.current) return;
      setMatches(first);
      setResultFor(q);
      setIndex(0);
      setError(undefined);
      setSearching(false);
      if (first.length >= FIRST_MATCHES) {
        setPartial(true);
        const all = await client.searchLog(jobId, q, SEARCH_LIMIT);
        if (gen !== generation.current) return;
        setMatches(all);
        setPartial(false);
      }
    } catch (e) {
      if (gen === generation.current) { setError((e as Error).message); setPartial(false); }
    } finally {
      if (gen === generation.current) setSearching(false);
    }
  }, [client, jobId]);

  useEffect(() => {
    const t = setTimeout(() => void run(query), 200);
    return () => clearTimeout(t);
  }, [query, run]);

  useEffect(() => { setQuery(''); setMatches([]); lastQuery.current = undefined; }, [jobId]);

  return { query, setQuery, runNow: () => void run(query), matches, resultFor, partial, index, setIndex, searching, error };
}
