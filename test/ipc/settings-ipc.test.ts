import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/api/engine-api.js';
import { defaultConfig } from '../../src-main/config.js';
import { Engine } from '../../src-main/engine/engine.js';
import { buildBridge } from '../../src-main/electron/bridge-api.js';
import { createDesktopApi } from '../../src-main/electron/desktop-api.js';
import { registerIpcRouter } from '../../src-main/electron/ipc-router.js';
import { SecretVault } from '../../src-main/storage/secret-vault.js';
import { IpcClient } from '../../src-renderer/api/ipc-client.js';
import { aesEncryptor } from './aes-encryptor.js';
import { FakeIpc } from './fake-ipc.js';

describe('settings over IPC, against the real engine with a safeStorage-like vault', () => {
  let dir: string;
  let engine: Engine;
  let dispose: () => void;
  let client: IpcClient;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-ipc-settings-'));
    const crypto = aesEncryptor();
    const secretsFile = join(dir, 'secrets.json');
    const config = defaultConfig();
    // As main.ts wires it: the engine's vault encrypts with safeStorage.
    engine = await Engine.start({ config, dataDir: join(dir, 'data'), configFile: join(dir, 'kiln.config.yml'), vault: new SecretVault(secretsFile, crypto), onError: () => undefined });
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

  it('adds a repository, lists it without secret values and writes kiln.config.yml', async () => {
    const saved = await client.saveRepository({ name: 'acme/web', url: 'https://github.com/acme/web.git', addWebhookSecrets: ['hook'], secrets: { NPM_TOKEN: 'hunter2' } });
    expect(saved).toMatchObject({ name: 'acme/web', defaultBranch: 'main', secretNames: ['NPM_TOKEN'], webhookSecretCount: 1 });
    const settings = await client.getSettings();
    expect(settings.repositories.map((r) => r.name)).toEqual(['acme/web']);
    expect(JSON.stringify(settings)).not.toContain('hunter2');
    expect(readFileSync(join(dir, 'kiln.config.yml'), 'utf8')).toContain('url: https://github.com/acme/web.git');
    expect(readFileSync(join(dir, 'secrets.json'), 'utf8')).not.toContain('hunter2');
  });

  it('carries a validation error across as a BAD_REQUEST ApiError naming the field', async () => {
    const err = await client.saveRepository({ name: 'acme/web', url: 'relative/path' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/^repositories\[acme\/web\]\.url: /) });
  });

  it('saves server settings and removes a repository', async () => {
    const view = await client.saveServerSettings({ concurrency: { jobs: 6, perRepository: 3 }, retention: { workspaces: '12h' } });
    expect(view.concurrency).toEqual({ jobs: 6, perRepository: 3 });
    expect(view.retention.workspacesMs).toBe(12 * 3_600_000);
    await client.saveRepository({ name: 'acme/web', url: 'https://github.com/acme/web.git' });
    await client.removeRepository('acme/web');
    expect(await client.listRepositories()).toEqual([]);
    await expect(client.removeRepository('acme/web')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
