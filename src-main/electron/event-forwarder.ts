/**
 * Forwards engine events to the window. Log lines are the bulk (a busy job prints thousands per
 * second): they are coalesced per job and sent at most every `logFlushMs`; any other event first
 * flushes the pending lines, so the renderer sees events in the order the engine published them.
 */
import type { EngineEvent } from '../../shared/api/engine-api.js';
import type { LogLine } from '../../shared/model/run.js';

export interface EventSourceLike {
  subscribe(listener: (event: EngineEvent) => void): () => void;
}

export function forwardEngineEvents(engine: EventSourceLike, send: (event: EngineEvent) => void, logFlushMs = 30): () => void {
  const pending = new Map<string, LogLine[]>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    for (const [jobId, lines] of pending) send({ type: 'log', jobId, lines });
    pending.clear();
  };
  const unsubscribe = engine.subscribe((event) => {
    try {
      if (event.type === 'log') {
        const list = pending.get(event.jobId);
        if (list) list.push(...event.lines);
        else pending.set(event.jobId, [...event.lines]);
        timer ??= setTimeout(flush, logFlushMs);
        return;
      }
      flush();
      send(event);
    } catch {
      // A destroyed window must not break the engine's listener loop.
    }
  });
  return () => {
    unsubscribe();
    if (timer !== undefined) clearTimeout(timer);
    pending.clear();
  };
}
