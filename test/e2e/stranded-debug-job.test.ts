/// <reference lib="dom" />
/**
 * A job kept for debugging on an engine that is no longer configured, in Debian's Chromium against
 * the real engine, Docker and HTTP server: after a restart with the engine renamed, the job's page
 * says where its container is, that it was not removed, and how to remove it there; End drops the
 * record and leaves the container.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src-main/settings/config-file.js';
import type { KilnConfig } from '../../src-main/core/engine-contract.js';
import { Engine } from '../../src-main/engine/engine.js';
import { FAILING_PIPELINE } from '../debug/debug-fixture.js';
import { committedRepo, openDashboard, type Dashboard } from './helpers/kiln-stack.js';

const REPO = 'acme/stranded';

function containers(runId: string): string[] {
  return execFileSync('docker', ['ps', '-a', '--filter', `label=kiln.run=${runId}`, '--format', '{{.Label "kiln.role"}}:{{.State}}'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}

describe('a kept job stranded on an engine no longer configured, on its page', () => {
  let root: string | undefined;
  let kiln: Dashboard | undefined;
  let runId: string | undefined;

  afterAll(async () => {
    await kiln?.close();
    if (runId) {
      execFileSync('sh', ['-c', `docker ps -aq --filter label=kiln.run=${runId} | xargs -r docker rm -f; docker network ls -q --filter label=kiln.run=${runId} | xargs -r docker network rm`]);
    }
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('says where its container is and how to remove it, and End drops only the record', async () => {
    root = mkdtempSync(join(tmpdir(), 'kiln-stranded-e2e-'));
    const repoDir = join(root, 'repo');
    mkdirSync(repoDir);
    committedRepo(repoDir, { '.kiln.yml': FAILING_PIPELINE });
    const engine = (name: string): NonNullable<KilnConfig['engines']>[number] => ({ name, address: 'unix:///var/run/docker.sock', limit: 2, labels: [] });
    const config: KilnConfig = { ...defaultConfig(), engines: [engine('first')] };
    config.server.port = 0;
    config.repositories.push({ name: REPO, url: repoDir, defaultBranch: 'main', webhookSecrets: [], secrets: { DEPLOY_TOKEN: 'x' }, priority: {} });
    const dataDir = join(root, 'data');

    const first = await Engine.start({ config, dataDir, debug: { keepMs: 120_000 }, onError: () => undefined });
    let jobId: string | undefined;
    try {
      [runId] = (await first.triggerRun({ repo: REPO, branch: 'main', debug: true })).runIds;
      const until = Date.now() + 90_000;
      while (!jobId && Date.now() < until) {
        jobId = (await first.listKeptJobs())[0]?.jobId;
        if (!jobId) await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await first.stop();
    }
    expect(jobId).toBeDefined();

    kiln = await openDashboard({ config: { ...config, engines: [engine('second')] }, dataDir, engine: { debug: { keepMs: 120_000 } } });
    const page = kiln.page;
    await page.goto(`${kiln.server.url}/#/runs/${encodeURIComponent(runId!)}/jobs/${encodeURIComponent(jobId!)}`);
    const said = page.getByTestId('debug-stranded');
    await said.waitFor({ timeout: 20_000 });
    expect(await said.innerText()).toContain("on engine first, which is no longer configured — container not removed");
    expect(await page.getByTestId('debug-remove-command').innerText()).toContain(`docker rm -f $(docker ps -aq --filter label=kiln.instance=`);
    expect(await page.locator('.terminal-pane').count()).toBe(0);

    await page.locator('[data-action=end-debug]').click();
    await said.waitFor({ state: 'detached', timeout: 20_000 });
    expect(await kiln.engine.listKeptJobs()).toEqual([]);
    expect(containers(runId!)).toEqual(['job:running', 'service:running']);
  });
});
