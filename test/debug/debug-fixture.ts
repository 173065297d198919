/**
 * The pipeline the debug tests fail on purpose: a first step adds SOME_VAR through $KILN_ENV and
 * leaves a file in the workspace; the second adds PARTIAL, prints a secret (masked) and exits 3.
 * The job has a service, `web`, that answers HTTP on 8080 by its host name.
 */
import { execFileSync } from 'node:child_process';
import { TEST_HEALTHY_IMAGE, TEST_IMAGE } from '../helpers/test-image.js';

export const FAILING_PIPELINE = `name: dbg
on:
  push: { branches: [main] }
  manual: true
jobs:
  build:
    image: ${TEST_IMAGE}
    secrets: [DEPLOY_TOKEN]
    services:
      web: { image: ${TEST_HEALTHY_IMAGE} }
    steps:
      - name: Prepare
        run: |
          echo "SOME_VAR=from-kiln-env" >> "$KILN_ENV"
          echo hello > marker.txt
      - name: Break
        run: |
          echo "PARTIAL=set-before-failing" >> "$KILN_ENV"
          echo "token is $DEPLOY_TOKEN"
          echo "failing now"
          exit 3
`;

/** The containers of a run, as `role:state`, sorted (a kept job: `job:running`, `service:running`). */
export function containers(runId: string): string[] {
  return execFileSync('docker', ['ps', '-a', '--filter', `label=kiln.run=${runId}`, '--format', '{{.Label "kiln.role"}}:{{.State}}'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}

/** Polls `probe` every 100 ms until it gives a value; fails naming `what` after `timeoutMs`. */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
