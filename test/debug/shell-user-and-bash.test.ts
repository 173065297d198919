/**
 * The debug shell as the image makes it: with `USER 1000:1000` the kept step's environment file is
 * that user's (still 0600), so the shell has the step's variables; a file it cannot read is said in
 * one line, not skipped in silence; and an image with a `bash` gets bash, not sh. The images are
 * built here, FROM the busybox test image. Real engine, Docker and HTTP/WebSocket.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { startEngine, type EngineFixture } from '../engine/engine-fixture.js';
import { TEST_IMAGE, ensureTestImages } from '../helpers/test-image.js';
import { openTerminal, type TerminalClient } from './terminal-client.js';

const USER_IMAGE = 'kiln-test/busybox-user1000:1';
const BASH_IMAGE = 'kiln-test/busybox-bash:1';

function buildImage(name: string, dockerfile: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-image-'));
  try {
    writeFileSync(join(dir, 'Dockerfile'), dockerfile);
    execFileSync('docker', ['build', '-q', '-t', name, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Each job adds a variable through $KILN_ENV, then fails: both stay kept in the same run.
const PIPELINE = `name: shells
on:
  manual: true
jobs:
  as-user:
    image: ${USER_IMAGE}
    env: { JOB_VAR: job-level }
    steps:
      - name: Break
        run: |
          echo "ADDED=added-by-step" >> "$KILN_ENV"
          exit 3
  with-bash:
    image: ${BASH_IMAGE}
    steps:
      - name: Break
        run: exit 3
`;

describe('the debug shell in images of their own', () => {
  let kiln: EngineFixture;
  let server: RunningServer;
  const jobs = new Map<string, string>();
  const termUrl = (id: string): string => `${server.url.replace('http', 'ws')}/api/jobs/${encodeURIComponent(id)}/terminal`;

  async function shell(job: string): Promise<TerminalClient> {
    const t = await openTerminal(termUrl(jobs.get(job)!));
    t.type('echo "ready-$((1+1))"\n');
    await t.waitFor('ready-2');
    return t;
  }

  beforeAll(async () => {
    ensureTestImages();
    buildImage(USER_IMAGE, `FROM ${TEST_IMAGE}\nUSER 1000:1000\n`);
    // A `bash` that is busybox's sh marking its shells, so the test can tell which one opened.
    buildImage(BASH_IMAGE, `FROM ${TEST_IMAGE}\nRUN printf '#!/bin/busybox sh\\nexport KILN_TEST_SHELL=bash\\nexec /bin/busybox sh "$@"\\n' > /bin/bash && chmod 755 /bin/bash\n`);
    kiln = await startEngine({ options: { debug: { keepMs: 10 * 60_000 }, onError: () => undefined } });
    kiln.repos[0].commit(PIPELINE);
    server = await startServer({ engine: kiln.engine, port: 0 });
    const [runId] = (await kiln.engine.triggerRun({ repo: 'acme/web', branch: 'main', debug: true })).runIds;
    await kiln.waitFor(async () => ((await kiln.engine.listKeptJobs()).length === 2 ? true : undefined), 90_000, 'both failed jobs to be kept');
    const run = await kiln.engine.getRun(runId);
    for (const j of run.jobs) jobs.set(j.name, j.id);
  });

  afterAll(async () => {
    for (const id of jobs.values()) await kiln?.engine.endDebug(id).catch(() => undefined);
    await server?.close();
    await kiln?.close();
  });

  it('gives a non-root image user the failing step environment, from a 0600 file of its own', async () => {
    const t = await shell('as-user');
    try {
      const from = t.output().length;
      t.type('echo "[$(id -u)|$JOB_VAR|$ADDED|$KILN_JOB]"; stat -c "%u:%g %a" /kiln/debug-env\n');
      const out = await t.waitFor(/1000:1000 600/, { from });
      expect(out).toContain('[1000|job-level|added-by-step|as-user]');
      expect(out).not.toContain('cannot read');
    } finally {
      await t.close();
    }
  });

  it('says in one line when the environment file cannot be read, instead of skipping it', async () => {
    const t = await shell('as-user');
    try {
      t.type('chmod 000 /kiln/debug-env\n');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await t.close();
    }
    const again = await openTerminal(termUrl(jobs.get('as-user')!));
    try {
      const out = await again.waitFor(/kiln: cannot read \/kiln\/debug-env as user 1000:1000: this shell lacks the failing step's environment/);
      expect(out.match(/kiln: cannot read/g)).toHaveLength(1);
    } finally {
      await again.close();
    }
  });

  it('opens bash when the image has it', async () => {
    const t = await shell('with-bash');
    try {
      const from = t.output().length;
      t.type('echo "shell=[$KILN_TEST_SHELL]"\n');
      await t.waitFor('shell=[bash]', { from });
    } finally {
      await t.close();
    }
  });
});
