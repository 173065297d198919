/**
 * Which jobs are kept for debugging, for the views that show jobs outside their own page (the
 * pipeline graph, the run's job table, the runs list). A kept job's status stays `running` (or is
 * `failed`, once adopted after a restart), so only the engine's list of kept jobs says it waits for
 * a person: fetched once, again (throttled) on run and job events, and every few seconds while
 * `active` — keeping a job sends no event of its own, and deadlines move with Extend.
 */
import { useEffect, useMemo } from 'react';
import type { KeptJobInfo } from '../../../shared/api/engine-api.js';
import { useAsync, useClient, useEngineEvents, useOnReconnect, useThrottled } from '../../app/hooks.js';

const POLL_MS = 5000;

export interface KeptJobs {
  /** Kept jobs by job id (of the run, when a run was given). */
  byJob: ReadonlyMap<string, KeptJobInfo>;
  /** Run ids with at least one kept job. */
  runs: ReadonlySet<string>;
  list: readonly KeptJobInfo[] | undefined;
  /** The last refetch failed (the Kiln server is stopped or unreachable): the list may be stale. */
  offline: boolean;
  reload(): void;
}

export function useKeptJobs(o: { runId?: string; active: boolean }): KeptJobs {
  const client = useClient();
  const { runId, active } = o;
  const state = useAsync(() => client.listKeptJobs().then((all) => (runId === undefined ? all : all.filter((k) => k.runId === runId))), [client, runId]);
  const { reload } = state;
  const refresh = useThrottled(reload, 250);
  useEngineEvents((e) => {
    if ((e.type === 'run' && (runId === undefined || e.run.id === runId)) || (e.type === 'job' && (runId === undefined || e.runId === runId))) refresh();
  });
  useOnReconnect(refresh);
  const polling = active || (state.data?.length ?? 0) > 0;
  useEffect(() => {
    if (!polling) return undefined;
    const t = setInterval(reload, POLL_MS);
    return () => clearInterval(t);
  }, [polling, reload]);
  return useMemo(() => ({
    list: state.data,
    byJob: new Map((state.data ?? []).map((k) => [k.jobId, k])),
    runs: new Set((state.data ?? []).map((k) => k.runId)),
    offline: state.error !== undefined,
    reload,
  }), [state.data, state.error, reload]);
}

/** "27 min left" (rounded up: a job with 10 s left still has a minute to be used). */
export function minutesLeft(kept: KeptJobInfo, now: number): string {
  return `${Math.max(0, Math.ceil((kept.deadline - now) / 60_000))} min left`;
}

/** The "waiting for debug · 27 min left" badge of a kept job ("container not removed" when stranded). */
export function DebugBadge({ kept, now, compact }: { kept: KeptJobInfo; now: number; compact?: boolean }) {
  if (kept.stranded) {
    return (
      <span className="pill pill-debug" data-testid="debug-badge" data-job-id={kept.jobId} title={`its container is on engine '${kept.stranded.engine}', which ${kept.stranded.why}: remove it there`}>
        {compact ? 'debug' : 'kept for debug'} · container not removed
      </span>
    );
  }
  return (
    <span className="pill pill-debug" data-testid="debug-badge" data-job-id={kept.jobId} title={`step '${kept.step.name}' failed; its container is kept for a terminal until ${new Date(kept.deadline).toLocaleTimeString()}`}>
      {compact ? 'debug' : 'waiting for debug'} · {minutesLeft(kept, now)}
    </span>
  );
}
