import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { LogGroup } from '../../../shared/model/job-records.js';
import type { JobSummary, LogLine } from '../../../shared/model/run.js';
import { isTerminal } from '../../../shared/model/status.js';
import type { KilnClient } from '../../api/kiln-client.js';
import { groupsOfLiveLines, mergeGroups } from './live-groups.js';

/** How often a live job's groups are refreshed (only what changed: see getLogGroups' `from`). */
const REFRESH_MS = 1000;

export interface LogGroupsState {
  /** In seq order; undefined until the first answer (the list waits for it, so nothing jumps). */
  list: LogGroup[] | undefined;
  isFolded(group: LogGroup): boolean;
  toggle(start: number): void;
  /** Opens these groups (to reveal a line inside them). */
  unfold(groups: readonly LogGroup[]): void;
  /** Live lines, before the viewer shows them: the groups they open or close show at once. */
  observe(lines: readonly LogLine[]): void;
}

/**
 * A job's log groups from the engine's stored metadata (never by reading the log): loaded once, then,
 * while the job runs, refreshed from the last known boundary on; between two refreshes the live
 * lines' own markers open and close groups (live-groups.ts). A group is closed by default once
 * its step has finished and open while it streams; a click flips that default (kept as a set of the
 * flipped groups, so 10,000 closed groups cost nothing).
 */
export function useLogGroups(client: KilnClient, job: JobSummary, live: boolean): LogGroupsState {
  const [list, setList] = useState<LogGroup[] | undefined>();
  const [flipped, setFlipped] = useState<ReadonlySet<number>>(new Set());
  // Written with every change, so live batches that arrive between two renders build on each other.
  const listRef = useRef(list);
  /** Groups worked out from live lines before the first answer came. */
  const early = useRef<LogGroup[]>([]);
  /** The last boundary the stored metadata answered for (live groups are not asked for again). */
  const storedFrom = useRef(0);
  const jobId = job.id;
  const put = useCallback((next: LogGroup[]) => { listRef.current = next; setList(next); }, []);
  const boundary = (groups: readonly LogGroup[]): void => {
    for (const g of groups) storedFrom.current = Math.max(storedFrom.current, g.start, g.end ?? 0);
  };

  useEffect(() => {
    let cancelled = false;
    listRef.current = undefined;
    early.current = [];
    storedFrom.current = 0;
    setList(undefined);
    // Asked for once the viewer is up, after the run and the first page: a large answer (10,000
    // groups) must not hold up those two on the engine.
    client.getLogGroups(jobId).then((g) => {
      if (cancelled) return;
      boundary(g);
      put(mergeGroups(g, early.current));
    }, () => { if (!cancelled) put(early.current); });
    return () => { cancelled = true; };
  }, [client, jobId, put]);

  const observe = useCallback((lines: readonly LogLine[]) => {
    const known = listRef.current;
    const changed = groupsOfLiveLines(known ?? early.current, lines);
    if (changed.length === 0) return;
    if (known === undefined) early.current = mergeGroups(early.current, changed);
    else put(mergeGroups(known, changed));
  }, [put]);

  // While live: fetch what opened or closed since the last known boundary; once more when the job ends.
  const loaded = list !== undefined;
  useEffect(() => {
    if (!loaded) return;
    let cancelled = false;
    const refresh = (): void => {
      client.getLogGroups(jobId, storedFrom.current).then((fresh) => {
        if (cancelled || fresh.length === 0) return;
        boundary(fresh);
        put(mergeGroups(listRef.current ?? [], fresh));
      }, () => undefined);
    };
    if (!live) {
      refresh();
      return () => { cancelled = true; };
    }
    const timer = setInterval(refresh, REFRESH_MS);
    return () => { cancelled = true; clearInterval(timer); };
  }, [client, jobId, live, loaded, put]);

  const doneSteps = job.steps.filter((s) => isTerminal(s.status)).map((s) => s.index).join(',');
  const jobDone = isTerminal(job.status);
  const isFolded = useMemo(() => {
    const done = new Set(doneSteps ? doneSteps.split(',').map(Number) : []);
    return (g: LogGroup): boolean => (jobDone || (g.step !== null && done.has(g.step))) !== flipped.has(g.start);
  }, [doneSteps, jobDone, flipped]);

  const toggle = useCallback((start: number) => setFlipped((f) => {
    const n = new Set(f);
    if (n.has(start)) n.delete(start); else n.add(start);
    return n;
  }), []);

  const unfold = useCallback((groups: readonly LogGroup[]) => setFlipped((f) => {
    const n = new Set(f);
    for (const g of groups) if (isFolded(g)) { if (n.has(g.start)) n.delete(g.start); else n.add(g.start); }
    return n;
  }), [isFolded]);

  return useMemo(() => ({ list, isFolded, toggle, unfold, observe }), [list, isFolded, toggle, unfold, observe]);
}
