import { useState } from 'react';
import { isTerminal, type Status } from '../../shared/model/status.js';
import { useClient } from '../app/hooks.js';
import { href } from '../app/route.js';

/** Cancel, re-run all, re-run failed only: the same three buttons in the runs list and the run view. */
export function RunActions({ runId, status, compact = false, onError }: { runId: string; status: Status; compact?: boolean; onError?: (e: Error) => void }) {
  const client = useClient();
  const [busy, setBusy] = useState(false);
  const [debug, setDebug] = useState(false);
  const act = async (fn: () => Promise<void>): Promise<void> => {
    setBusy(true);
    try { await fn(); } catch (e) { onError?.(e as Error); } finally { setBusy(false); }
  };
  const rerun = (failedOnly: boolean): Promise<void> => act(async () => {
    const { runId: next } = await client.rerun(runId, debug ? { failedOnly, debug } : { failedOnly });
    window.location.hash = href({ view: 'run', runId: next });
  });
  const cls = compact ? 'btn btn-sm' : 'btn';
  if (!isTerminal(status)) {
    return (
      <div className="actions">
        <button type="button" className={`${cls} btn-danger`} disabled={busy} onClick={() => act(() => client.cancelRun(runId))} data-action="cancel">
          Cancel
        </button>
      </div>
    );
  }
  const failedOnly = status === 'failed' || status === 'cancelled' || status === 'timed_out';
  return (
    <div className="actions">
      <button type="button" className={cls} disabled={busy} onClick={() => rerun(false)} data-action="rerun" title="Run every job again">
        ↻ Re-run
      </button>
      {failedOnly && (
        <button type="button" className={cls} disabled={busy} onClick={() => rerun(true)} data-action="rerun-failed" title="Run only the jobs that did not pass">
          Re-run failed
        </button>
      )}
      {!compact && (
        <label className="debug-toggle" title="A job that fails stays up with a terminal into it (see docs/debug.md)">
          <input type="checkbox" name="debug" checked={debug} onChange={(e) => setDebug(e.target.checked)} /> with debug
        </label>
      )}
    </div>
  );
}
