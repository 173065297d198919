/**
 * Kept jobs Kiln cannot reach (stranded): the job's engine is no longer configured, or its name now
 * reaches another Docker than the one that kept it. DebugService keeps their records without a slot
 * and shows them with what the user can do; this module holds what tells and says so: whether a
 * Docker is the one that kept a job, and the command that removes the job's containers by hand.
 */
import type Dockerode from 'dockerode';
import type { KeptJobInfo } from '../../shared/api/engine-api.js';
import type { KeptJobRow } from '../storage/debug-store.js';

/** Why an adopted job's container is out of reach when its engine's name now reaches another Docker. */
export const ANOTHER_DOCKER = 'now reaches a different Docker than the one that kept it';
/** Why a job's container is out of reach when its engine is gone from the configuration. */
export const NOT_CONFIGURED = 'is no longer configured';

export interface Stranded {
  row: KeptJobRow;
  engine: string;
  /** Why Kiln cannot reach its container: NOT_CONFIGURED or ANOTHER_DOCKER. */
  why: string;
}

/**
 * Whether `docker` is the Docker that kept `row`'s container (`docker info`'s ID, recorded when
 * kept). True when the row has no ID (kept before it was recorded); undefined when Docker cannot
 * be asked (decide nothing now: the next check asks again).
 */
export async function isKeepingDocker(row: KeptJobRow, docker: Dockerode): Promise<boolean | undefined> {
  if (!row.docker_id) return true;
  try {
    return (await docker.info() as { ID?: string }).ID === row.docker_id;
  } catch {
    return undefined;
  }
}

/** The Docker's ID, for the row of a job being kept; undefined when it does not say. */
export async function dockerIdOf(docker: Dockerode): Promise<string | undefined> {
  const { ID } = await docker.info() as { ID?: string };
  return ID || undefined;
}

/** How the user removes a stranded job's containers (the job's and its services'): on that engine, by Kiln's labels. */
export function strandedInfo(st: Stranded, instanceId: string): NonNullable<KeptJobInfo['stranded']> {
  const labels = `--filter label=kiln.instance=${instanceId} --filter label=kiln.run=${st.row.run_id} --filter label=kiln.job=${st.row.job_key}`;
  return {
    engine: st.engine, why: st.why, containerId: st.row.container_id,
    removeCommand: `docker rm -f $(docker ps -aq ${labels})`,
  };
}
