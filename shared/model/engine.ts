/** A Docker engine of the worker pool, as the engine reports it and the Engines page shows it. */

/** starting: not asked yet; reaping: back after being down, removing what its lost jobs left. */
export type EngineState = 'starting' | 'up' | 'down' | 'reaping';

/** One Docker engine as the Engines page shows it. */
export interface EngineInfo {
  name: string;
  /** unix:///…, tcp://host:port, ssh://user@host */
  address: string;
  /** Why this engine: "kiln.config.yml", "DOCKER_HOST", "docker context 'colima'", "the default socket". */
  source: string;
  state: EngineState;
  version?: string;
  labels: string[];
  /** Jobs at once on this engine. */
  limit: number;
  /** Ids of the jobs running there. */
  running: string[];
  /** Those jobs with their runs and names, for links (the engine API fills it in; absent in older answers). */
  jobs?: Array<{ id: string; runId: string; name: string }>;
  lastError?: string;
  /** Epoch ms of its last answer. */
  lastSeenAt?: number;
  /**
   * Set while an engine removed in Settings ('removed'), or the old connection of one saved with a
   * new address or material ('replaced'), finishes the jobs in `running`: it takes no new job and
   * leaves the list when the last of them ends.
   */
  retiring?: 'removed' | 'replaced';
}
