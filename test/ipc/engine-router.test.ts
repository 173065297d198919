import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/api/engine-api.js';
import { defaultConfig } from '../../src-main/config.js';
import { Engine } from '../../src-main/engine/engine.js';
import { buildBridge } from '../../src-main/electron/bridge-api.js';
import { createDesktopApi } from '../../src-main/electron/desktop-api.js';
import { registerIpcRouter } from '../../src-main/electron/ipc-router.js';
import { IpcClient } from '../../src-renderer/api/ipc-client.js';
import { FakeIpc } from './fake-ipc.js';

describe('the IPC layer over the real engine', () => {
  let dir: string;
  let engine: Engine;
  let dispose: () => void;
  let client: IpcClient;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-ipc-'));
    const config = defaultConfig();
    config.repositories.push({ name: 'acme/web', url: join(dir, 'missing.git'), defaultBranch: 'main', webhookSecrets: ['s'], secrets: {}, priority: {} });
    engine = await Engine.start({ config, dataDir: join(dir, 'data'), onError: () => undefined });
    const ipc = new FakeIpc();
    dispose = registerIpcRouter(ipc.main, { engine, desktop: createDesktopApi({ serverUrl: () => 'http://127.0.0.1:1' }) });
    client = new IpcClient(buildBridge(ipc.renderer));
    await client.init();
  });

  afterEach(async () => {
    dispose();
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists runs as a page from the database', async () => {
    expect(await client.listRuns({ limit: 5 })).toEqual({ items: [] });
  });

  it('reports health with the docker state and queue counts', async () => {
    const h = await client.health();
    expect(h.queue).toEqual({ queued: 0, running: 0 });
    expect(typeof h.docker.ok).toBe('boolean');
  });

  it('carries NOT_FOUND for an unknown run across as an ApiError', async () => {
    const err = await client.getRun('no-such-run').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('NOT_FOUND');
  });

  it('writes a secret that the engine then lists by name only', async () => {
    await client.saveRepository({ name: 'acme/web', secrets: { NPM_TOKEN: 'hunter2' } });
    const [repo] = await client.listRepositories();
    expect(repo.secretNames).toEqual(['NPM_TOKEN']);
    expect(JSON.stringify(repo)).not.toContain('hunter2');
  });
});
