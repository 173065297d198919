import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { LogGroup } from '../../../shared/model/job-records.js';
import type { JobSummary } from '../../../shared/model/run.js';
import { isTerminal } from '../../../shared/model/status.js';
import type { KilnClient } from '../../api/kiln-client.js';

/** How often a live job's groups are refreshed (only what changed: see getLogGroups' `from`). */
const REFRESH_MS = 1000;

export interface LogGroupsState {
  /** In seq order; undefined until the first answer (the list waits for it, so nothing jumps). */
  list: LogGroup[] | undefined;
  isFolded(group: LogGroup): boolean;
  toggle(start: number): void;
  /** Opens these groups (to reveal a line inside them). */
  unfold(groups: readonly LogGroup[]): void;
}

/** Replaces groups by start and keeps the list sorted. */
function merge(prev: readonly LogGroup[], fresh: readonly LogGroup[]): LogGroup[] {
  const byStart = new Map(prev.map((g) => [g.start, g]));
  for (const g of fresh) byStart.set(g.start, g);
  return [...byStart.values()].sort((a, b) => a.start - b.start);
}

/**
 * A job's log groups from the engine's stored metadata (never by reading the log): loaded once, then,
 * while the job runs, refreshed from the last known boundary on. A group is closed by default once
 * its step has finished and open while it streams; a click flips that default (kept as a set of the
 * flipped groups, so 10,000 closed groups cost nothing).
 */
export function useLogGroups(client: KilnClient, job: JobSummary, live: boolean): LogGroupsState {
  const [list, setList] = useState<LogGroup[] | undefined>();
  const [flipped, setFlipped] = useState<ReadonlySet<number>>(new Set());
  const listRef = useRef(list);
  listRef.current = list;
  const jobId = job.id;

  useEffect(() => {
    let cancelled = false;
    setList(undefined);
    // Asked for once the viewer is up, after the run and the first page: a large answer (10,000
    // groups) must not hold up those two on the engine.
    client.getLogGroups(jobId).then((g) => { if (!cancelled) setList(g); }, () => { if (!cancelled) setList([]); });
    return () => { cancelled = true; };
  }, [client, jobId]);

  // While live: fetch what opened or closed since the last known boundary; once more when the job ends.
  const loaded = list !== undefined;
  useEffect(() => {
    if (!loaded) return;
    let cancelled = false;
    const refresh = (): void => {
      const known = listRef.current ?? [];
      const from = known.reduce((m, g) => Math.max(m, g.start, g.end ?? 0), 0);
      client.getLogGroups(jobId, from).then((fresh) => {
        if (!cancelled && fresh.length > 0) setList((prev) => merge(prev ?? [], fresh));
      }, () => undefined);
    };
    if (!live) {
      refresh();
      return () => { cancelled = true; };
    }
    const timer = setInterval(refresh, REFRESH_MS);
    return () => { cancelled = true; clearInterval(timer); };
  }, [client, jobId, live, loaded]);

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

  return useMemo(() => ({ list, isFolded, toggle, unfold }), [list, isFolded, toggle, unfold]);
}
