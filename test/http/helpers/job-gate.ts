/**
 * A gate that holds a real job running until the test opens it: the step waits for a file in its
 * container, and `openGate` creates that file with `docker exec`, finding the job's container by the
 * labels Kiln puts on it. So a test decides exactly when a running job goes on (prints its last
 * lines, finishes) instead of guessing with sleeps.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

const GATE_FILE = '/tmp/kiln-test-gate';

/** Shell that returns once the gate is open (checks every 20 ms; busybox has usleep). */
export const WAIT_FOR_GATE = `while [ ! -e ${GATE_FILE} ]; do usleep 20000; done`;

/** Shell condition, true while the gate is closed (for loops that do work until it opens). */
export const GATE_CLOSED = `[ ! -e ${GATE_FILE} ]`;

/** Opens the gate in the running job container of `runId` (a run of one job) of the engine labelled `instanceId`. */
export async function openGate(instanceId: string, runId: string): Promise<void> {
  const { stdout } = await run('docker', ['ps', '-q', '--filter', `label=kiln.instance=${instanceId}`, '--filter', `label=kiln.run=${runId}`, '--filter', 'label=kiln.role=job']);
  const ids = stdout.split('\n').filter(Boolean);
  if (ids.length !== 1) throw new Error(`expected one running job container for run ${runId}, found ${ids.length}`);
  await run('docker', ['exec', ids[0], 'touch', GATE_FILE]);
}
