/**
 * The pipeline the debug tests fail on purpose: a first step adds SOME_VAR through $KILN_ENV and
 * leaves a file in the workspace; the second adds PARTIAL, prints a secret (masked) and exits 3.
 * The job has a service, `web`, that answers HTTP on 8080 by its host name. Also what several
 * debug tests share: a run's containers, a polling wait, and a process that keeps a job then dies.
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { KilnConfig } from '../../src-main/core/engine-contract.js';
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

/**
 * A child process (debug-crash-child.mjs, on the compiled engine in dist/) starts an engine with
 * `config` on `dataDir`, keeps the failed job of a run with debug of the first repository, and is
 * then killed (kill -9): what a crash leaves behind for the next start to adopt. The config is
 * written to `<root>/config.json` for the child.
 */
export async function keptByCrashingChild(o: { root: string; config: KilnConfig; dataDir: string; keepMs: number }): Promise<{ runId: string; jobId: string }> {
  const configFile = join(o.root, 'config.json');
  writeFileSync(configFile, JSON.stringify(o.config));
  const child = spawn(process.execPath, [resolve('test/debug/debug-crash-child.mjs'), resolve('dist'), configFile, o.dataDir, String(o.keepMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  try {
    return await new Promise<{ runId: string; jobId: string }>((resolveSeen, reject) => {
      const timer = setTimeout(() => reject(new Error(`the child never kept the job; stderr: ${stderr}`)), 120_000);
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the child exited (${String(code)}) before it kept the job; stderr: ${stderr}`)); });
      createInterface({ input: child.stdout }).on('line', (line) => {
        const msg = JSON.parse(line) as { runId?: string; jobId?: string };
        if (msg.runId && msg.jobId) {
          clearTimeout(timer);
          resolveSeen({ runId: msg.runId, jobId: msg.jobId });
        }
      });
    });
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}
