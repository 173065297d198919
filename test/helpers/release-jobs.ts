/**
 * Steps that run until the test lets them go, instead of for a fixed time. A step built with
 * `untilReleased()` waits for a file that `releaseJobs()` creates in its container with a real
 * `docker exec` on the job's own engine. A test then spends in a job no more time than its checks
 * need, and a slow machine cannot end the job before the checks are done (a fixed `sleep` is
 * either long or racy). A step never released gives up after `capS` seconds and fails, naming why.
 */
import type Dockerode from 'dockerode';

const RELEASE_FILE = '/tmp/kiln-release';

/**
 * Shell (one line, no single quotes) that waits until the test releases the job, polling every
 * 0.1 s; `body` runs on each turn (e.g. a tick of output).
 */
export function untilReleased(o: { body?: string; everyS?: number; capS?: number } = {}): string {
  const every = o.everyS ?? 0.1;
  const turns = Math.ceil((o.capS ?? 120) / every);
  return `n=0; until [ -e ${RELEASE_FILE} ]; do n=$((n+1)); if [ $n -gt ${turns} ]; then echo "never released" >&2; exit 3; fi; ${o.body ? `${o.body}; ` : ''}sleep ${every}; done`;
}

/**
 * Releases the running job containers of Kiln instance `instanceId` on `docker` (only those of
 * job `jobId` when given); returns how many were released.
 */
export async function releaseJobs(docker: Dockerode, instanceId: string, jobId?: string): Promise<number> {
  const label = [`kiln.instance=${instanceId}`, 'kiln.role=job', ...(jobId ? [`kiln.job=${jobId}`] : [])];
  const containers = await docker.listContainers({ filters: JSON.stringify({ label, status: ['running'] }) });
  for (const c of containers) {
    const exec = await docker.getContainer(c.Id).exec({ Cmd: ['touch', RELEASE_FILE], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    await new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
      stream.resume();
    });
    const { ExitCode } = await exec.inspect();
    if (ExitCode !== 0) throw new Error(`could not release container ${c.Names[0]}: touch exited ${ExitCode}`);
  }
  return containers.length;
}
