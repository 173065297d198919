/**
 * A recording front for a real engine: every method of the engine contract notes its name and
 * arguments in `calls`, then runs on the engine. The IPC tests check what the router handed over;
 * a test may replace one method (say, to make it throw) on the front without touching the engine.
 */
import { ENGINE_API_METHODS, type EngineApi } from '../../shared/api/engine-api.js';

export type RecordingEngine = EngineApi & { calls: Array<{ method: string; args: unknown[] }> };

export function recordCalls(engine: EngineApi): RecordingEngine {
  const front = { calls: [] } as unknown as RecordingEngine;
  for (const method of ENGINE_API_METHODS) {
    const real = (engine[method] as (...args: unknown[]) => Promise<unknown>).bind(engine);
    (front as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[method] = (...args: unknown[]) => {
      front.calls.push({ method, args });
      return real(...args);
    };
  }
  return front;
}
