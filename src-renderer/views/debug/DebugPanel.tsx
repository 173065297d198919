import { useRef, useState } from 'react';
import type { KeptJobInfo } from '../../../shared/api/engine-api.js';
import { useClient, useTicker } from '../../app/hooks.js';
import { formatDuration } from '../../app/format.js';
import { TerminalPane } from './TerminalPane.js';

/** What one press of Extend adds: the label and the request both read it. */
export const EXTEND_MINUTES = 30;

/**
 * A kept job on an engine Kiln cannot reach (stranded): it holds no slot and has no terminal; the
 * page says where its container is and how to remove it there, and End drops the record only.
 */
function StrandedPanel({ kept, stranded, busy, onEnd }: { kept: KeptJobInfo; stranded: NonNullable<KeptJobInfo['stranded']>; busy: boolean; onEnd: () => void }) {
  return (
    <section className="card debug-panel" data-testid="debug-panel" data-job-id={kept.jobId} data-state="stranded">
      <div className="debug-head">
        <div data-testid="debug-stranded">
          <b className="debug-badge">Kept for debug</b>{' '}
          step <b>{kept.step.name}</b> failed; on engine <b>{stranded.engine}</b>, which {stranded.why} — container not removed.
          Remove it on that engine with <code data-testid="debug-remove-command">{stranded.removeCommand}</code>
        </div>
        <div className="actions">
          <button type="button" className="btn btn-sm" disabled={busy} data-action="end-debug" onClick={onEnd}>End (forget the record)</button>
        </div>
      </div>
    </section>
  );
}

/**
 * A failed job kept for debugging: how long it stays, terminals into it (several at once; closing
 * one, or the page, leaves the container up), extend, re-run the failed step, end debugging.
 * Ending is what the person asked for, so it is a notice (`onNotice`), and the terminals' "container
 * removed" that follows is not an error. While the server cannot be reached (`offline`) the
 * actions are disabled: they would only fail.
 */
export function DebugPanel({ kept, offline, onChanged, onError, onNotice }: { kept: KeptJobInfo; offline?: boolean; onChanged: () => void; onError: (e: Error) => void; onNotice: (text: string) => void }) {
  const client = useClient();
  const now = useTicker(true);
  const [terminals, setTerminals] = useState<number[]>([0]);
  const [next, setNext] = useState(1);
  const [busy, setBusy] = useState(false);
  const [rerun, setRerun] = useState<string | undefined>();
  const ending = useRef(false);
  const end = (): Promise<void> => {
    ending.current = true;
    return act(async () => {
      try { await client.endDebug(kept.jobId, 'dashboard'); } catch (e) { ending.current = false; throw e; }
      onNotice('Debugging ended: the kept container was removed.');
    });
  };
  const terminalProblem = (e: Error): void => { if (!ending.current) onError(e); };
  const disabled = busy || !!offline;
  const act = async (fn: () => Promise<void>): Promise<void> => {
    setBusy(true);
    try { await fn(); onChanged(); } catch (e) { onError(e as Error); } finally { setBusy(false); }
  };
  const left = Math.max(0, kept.deadline - now);
  if (kept.stranded) return <StrandedPanel kept={kept} stranded={kept.stranded} busy={disabled} onEnd={() => act(() => client.endDebug(kept.jobId, 'dashboard'))} />;
  return (
    <section className="card debug-panel" data-testid="debug-panel" data-job-id={kept.jobId}>
      <div className="debug-head">
        <div>
          <b className="debug-badge">Waiting for debug</b>{' '}
          step <b>{kept.step.name}</b> failed; the container stays up for <b data-testid="debug-left">{formatDuration(left)}</b>
          {/* An adopted job (kept before a restart) holds its worker slot too, until it is removed. */}
          <span className="muted" data-testid="debug-slot"> ({kept.state === 'held' ? 'holding a concurrency slot' : 'kept from before a restart, holding a concurrency slot'})</span>
          {offline && <div className="text-danger small" data-testid="debug-offline">The Kiln server cannot be reached: these actions wait until it is back.</div>}
        </div>
        <div className="actions">
          <button type="button" className="btn btn-sm" disabled={disabled} data-action="new-terminal" onClick={() => { setTerminals((t) => [...t, next]); setNext((n) => n + 1); }}>+ Terminal</button>
          <button type="button" className="btn btn-sm" disabled={disabled} data-action="extend-debug" onClick={() => act(async () => { await client.extendDebug(kept.jobId, EXTEND_MINUTES); })}>Extend {EXTEND_MINUTES} min</button>
          {kept.state === 'held' && (
            <button type="button" className="btn btn-sm" disabled={disabled} data-action="rerun-step"
              onClick={() => act(async () => { const { exitCode } = await client.rerunFailedStep(kept.jobId); setRerun(`re-run of '${kept.step.name}' exited with ${exitCode}`); })}>
              Re-run the failed step
            </button>
          )}
          <button type="button" className="btn btn-sm btn-danger" disabled={disabled} data-action="end-debug" onClick={() => void end()}>End debugging</button>
        </div>
      </div>
      {rerun && <div className="notice" data-testid="rerun-result">{rerun} (its output is in the log below)</div>}
      {terminals.map((id, i) => (
        <TerminalPane key={id} openUrl={() => client.terminalUrl(kept.jobId)} index={i} onClose={() => setTerminals((t) => t.filter((x) => x !== id))} onProblem={terminalProblem} />
      ))}
    </section>
  );
}
