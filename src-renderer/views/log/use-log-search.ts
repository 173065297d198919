import { useCallback, useEffect, useRef, useState } from 'react';
import type { LogMatch } from '../../../shared/api/engine-api.js';
import type { KilnClient } from '../../api/kiln-client.js';

export const SEARCH_LIMIT = 1000;

export interface LogSearch {
  query: string;
  setQuery: (q: string) => void;
  /** Runs the search now (Enter), instead of after the typing pause. */
  runNow: () => void;
  matches: LogMatch[];
  index: number;
  setIndex: (i: number) => void;
  searching: boolean;
  error: string | undefined;
}

/** Server-side search (the log may be far bigger than what the viewer holds), debounced while typing. */
export function useLogSearch(client: KilnClient, jobId: string): LogSearch {
  const [query, setQuery] = useState('');
  const [matches, setMatches] = useState<LogMatch[]>([]);
  const [index, setIndex] = useState(0);
  const [searching, setSearching] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const generation = useRef(0);

  const run = useCallback(async (q: string) => {
    const gen = ++generation.current;
    if (!q) {
      setMatches([]);
      setSearching(false);
      setError(undefined);
      return;
    }
    setSearching(true);
    try {
      const found = await client.searchLog(jobId, q, SEARCH_LIMIT);
      if (gen !== generation.current) return;
      setMatches(found);
      setIndex(0);
      setError(undefined);
    } catch (e) {
      if (gen === generation.current) setError((e as Error).message);
    } finally {
      if (gen === generation.current) setSearching(false);
    }
  }, [client, jobId]);

  useEffect(() => {
    const t = setTimeout(() => void run(query), 200);
    return () => clearTimeout(t);
  }, [query, run]);

  useEffect(() => { setQuery(''); setMatches([]); }, [jobId]);

  return { query, setQuery, runNow: () => void run(query), matches, index, setIndex, searching, error };
}
