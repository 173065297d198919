/**
 * Why a queued job waits for an engine, in one clause beside slot-wait.ts's: no engine of the pool
 * answers, so nothing can be claimed however many slots are free — "far (tcp://far:2376) is not
 * reachable: getaddrinfo ENOTFOUND far". Without it a run added after its only engine went away (or
 * after the first engine added in Settings replaced the local one) sat queued with no reason at all.
 * Undefined while any engine is up: which one a job needs (labels, images) is the claim's business,
 * and better nothing than a wrong reason.
 */

/** What the pool reports of each engine (EngineInfo's fields that matter here). */
export interface EngineWaitInput {
  name: string;
  address: string;
  state: 'starting' | 'up' | 'down' | 'reaping';
  lastError?: string;
  /** Set while a removed or replaced engine finishes its jobs: it takes none, so it is not waited for. */
  retiring?: string;
}

export function whyEngineWait(engines: readonly EngineWaitInput[]): string | undefined {
  const pool = engines.filter((e) => !e.retiring);
  if (pool.length === 0 || pool.some((e) => e.state === 'up')) return undefined;
  const one = (e: EngineWaitInput): string => {
    if (e.state === 'starting') return `${e.name} (${e.address}) has not answered yet`;
    if (e.state === 'reaping') return `${e.name} (${e.address}) is removing what its lost jobs left behind`;
    // The executor's ping says "Docker engine not reachable: why"; the clause already says the first part.
    const why = e.lastError?.replace(/^Docker engine not reachable:\s*/, '');
    return `${e.name} (${e.address}) is not reachable${why ? `: ${why}` : ''}`;
  };
  return pool.map(one).join('; ');
}
