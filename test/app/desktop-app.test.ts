import Dockerode from 'dockerode';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IPC_EVENT_CHANNEL, type EngineEvent } from '../../shared/api/engine-api.js';
import { RENDERER_CSP } from '../../src-main/electron/window-security.js';
import { unwrap } from '../../src-renderer/api/ipc-client.js';
import { ensureRendererBuilt } from '../e2e/helpers/kiln-stack.js';
import { createRepo, type TestRepo } from '../engine/engine-fixture.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { buildPreload, FakeSmee, launchApp, mainWindow, PRELOAD_BUNDLE, rendererOf, waitFor, type LaunchedApp, type Standin } from './launch-app.js';

const docker = new Dockerode();

const pipeline = (script: string): string => `name: app
on:
  manual: true
jobs:
  build:
    image: ${TEST_IMAGE}
    steps:
      - run: ${JSON.stringify(script)}
`;

let root: string;
let userData: string;
let repo: TestRepo;
let smee: FakeSmee;
let launched: LaunchedApp[] = [];

beforeAll(() => {
  ensureRendererBuilt();
  buildPreload();
});

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'kiln-app-'));
  userData = join(root, 'user-data');
  repo = createRepo(root, 'acme/web');
  smee = new FakeSmee();
  await smee.start();
  writeConfig();
});

afterEach(async () => {
  // Whatever a test left running is quit the way a user quits, and waited for.
  for (const l of launched) {
    if (l.standin.app.alive) l.standin.app.quit();
    await l.exited;
  }
  launched = [];
  await smee.stop();
  rmSync(root, { recursive: true, force: true });
});

function writeConfig(text?: string): void {
  mkdirSync(userData, { recursive: true });
  writeFileSync(join(userData, 'kiln.config.yml'), text ?? `server: { host: 127.0.0.1, port: 0 }
tunnel: { url: "${smee.url}" }
repositories:
  - name: acme/web
    url: ${repo.dir}
    default-branch: main
`);
}

async function launch(platform?: (p: Standin['platform']) => void): Promise<LaunchedApp> {
  const l = await launchApp(userData, platform);
  launched.push(l);
  return l;
}

function instanceId(): string {
  return readFileSync(join(userData, 'data', 'instance-id'), 'utf8').trim();
}

async function containersOf(id: string): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`kiln.instance=${id}`] } });
  return list.map((c) => c.Names[0] ?? c.Id);
}

describe('when the user starts Kiln', () => {
  it('starts the engine on the app data directory, serves webhooks and badges, and opens a secure window with the CSP', async () => {
    const { standin } = await launch();
    const window = await mainWindow(standin);

    expect(existsSync(join(userData, 'data', 'kiln.db'))).toBe(true);
    expect(window.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true });
    expect(window.options.webPreferences?.preload).toBe(resolve(PRELOAD_BUNDLE));
    expect(window.webContents.getURL()).toBe(pathToFileURL(resolve('dist-renderer/index.html')).toString());
    await waitFor(() => window.isVisible(), 'the window to show once ready');
    expect(await standin.session.defaultSession.respond(window.webContents.getURL(), { 'Content-Type': ['text/html'] }))
      .toEqual({ 'Content-Type': ['text/html'], 'Content-Security-Policy': [RENDERER_CSP] });
    expect(await standin.session.defaultSession.requestPermission('notifications')).toBe(true);
    expect(await standin.session.defaultSession.requestPermission('media')).toBe(false);

    const { client, bridge } = await rendererOf(standin, window);
    const serverUrl = unwrap<string>(await bridge.invoke('serverUrl', []));
    expect(serverUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const badge = await fetch(`${serverUrl}/badges/acme/web.svg`);
    expect(badge.status).toBe(200);
    expect(badge.headers.get('content-type')).toContain('image/svg+xml');
    const unsigned = await fetch(`${serverUrl}/webhooks/github`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'd-1' }, body: JSON.stringify({ repository: { full_name: 'acme/web' } }) });
    expect(unsigned.status).toBe(401);

    // The tunnel forwards the configured channel, and the window hears about it.
    await waitFor(() => smee.open.size === 1, 'the tunnel to connect');
    expect((await waitFor(async () => { const h = await client.health(); return h.tunnel.state === 'connected' && h; }, 'health to show the tunnel connected')).tunnel).toMatchObject({ state: 'connected' });

    // The window never leaves the app: external links go to the browser, downloads download, the rest is blocked.
    expect(window.webContents.navigate('https://github.com/acme/web')).toBe(false);
    expect(standin.shell.opened).toEqual(['https://github.com/acme/web']);
    expect(window.webContents.navigate(`${serverUrl}/api/jobs/j1/log/raw`)).toBe(false);
    expect(window.webContents.downloads).toEqual([`${serverUrl}/api/jobs/j1/log/raw`]);
    expect(window.webContents.navigate('file:///etc/passwd')).toBe(false);
    expect(window.webContents.navigate(`${window.webContents.getURL()}#/runs`)).toBe(true);
    expect(window.webContents.openWindow('https://example.com/')).toEqual({ action: 'deny' });
    expect(window.webContents.attachWebview('https://example.com/')).toBe(false);
  });

  it('runs a build the renderer starts over IPC on real Docker, and sends its events to the window', async () => {
    repo.commit(pipeline('echo built by the desktop app'));
    const { standin } = await launch();
    const window = await mainWindow(standin);
    const { client, bridge } = await rendererOf(standin, window);
    const seen: EngineEvent[] = [];
    bridge.onEvent((e) => seen.push(e));

    const { runIds } = await client.triggerRun({ repo: 'acme/web', branch: 'main' });
    expect(runIds).toHaveLength(1);
    const run = await waitFor(async () => { const r = await client.getRun(runIds[0]); return ['passed', 'failed', 'cancelled'].includes(r.status) && r; }, 'the run to finish', 90_000);
    expect(run.status).toBe('passed');
    const log = await client.getLog(run.jobs[0].id, 0);
    expect(log.lines.map((l) => l.text)).toContain('built by the desktop app');
    expect(seen.some((e) => e.type === 'run' && e.run.id === runIds[0] && e.run.status === 'passed')).toBe(true);
    expect(window.webContents.sent.every((m) => m.channel === IPC_EVENT_CHANNEL)).toBe(true);
  });

  it("notifies a failed build of the default branch, and the notification's click opens that run", async () => {
    repo.commit(pipeline('echo broken >&2; exit 1'));
    const { standin } = await launch();
    const window = await mainWindow(standin);
    const { client } = await rendererOf(standin, window);
    window.close();
    const { runIds } = await client.triggerRun({ repo: 'acme/web', branch: 'main' });
    const notice = await waitFor(() => standin.notifications.find((n) => /failed/i.test(`${n.title} ${n.body}`)), 'the failure notification', 90_000);
    expect(notice.options.icon).toBe(resolve('assets/icon.png'));
    notice.click();
    expect(window.isVisible()).toBe(true);
    expect(window.webContents.scripts).toEqual([`location.hash = ${JSON.stringify(`#/runs/${runIds[0]}`)}`]);
  });

  it('answers only the app\'s own page over IPC', async () => {
    const { standin } = await launch();
    await mainWindow(standin);
    const electron = await import('../electron-standin/electron.js');
    const stranger = new electron.BrowserWindow({ show: false });
    await stranger.loadURL('data:text/html,<p>not Kiln</p>');
    expect(await standin.ipcMain.invokeFrom(stranger.webContents, 'kiln:invoke', ['listRuns', [{}]])).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
  });

  it('keeps building with the window closed, counts the build in the tray, and reopens from the tray', async () => {
    repo.commit(pipeline('sleep 3; echo done'));
    const { standin } = await launch();
    const window = await mainWindow(standin);
    const { client } = await rendererOf(standin, window);
    const [tray] = standin.liveTrays();
    expect(tray.image).toMatchObject({ path: resolve('assets/tray.png') });
    expect((tray.image as { isEmpty(): boolean }).isEmpty()).toBe(false);
    expect(tray.tooltip).toBe('Kiln — idle');

    const { runIds } = await client.triggerRun({ repo: 'acme/web', branch: 'main' });
    await waitFor(() => tray.tooltip === 'Kiln — 1 build running', 'the tray to count the running build', 60_000);
    expect(tray.menu?.items[0]).toMatchObject({ label: 'Kiln — 1 build running', enabled: false });

    window.close();
    expect(window.isDestroyed()).toBe(false);
    expect(window.isVisible()).toBe(false);
    expect(standin.app.alive).toBe(true);

    await waitFor(() => tray.tooltip === 'Kiln — idle', 'the build to finish with the window closed', 60_000);
    expect((await client.getRun(runIds[0])).status).toBe('passed');

    tray.click();
    expect(window.isVisible()).toBe(true);
    expect(window.isFocused()).toBe(true);
    expect(standin.windows()).toEqual([window]);
  });

  it('stops the tunnel, the server and the engine on Quit, leaving no container', async () => {
    repo.commit(pipeline('echo started; sleep 120'));
    const { standin, exited } = await launch();
    const window = await mainWindow(standin);
    const { client, bridge } = await rendererOf(standin, window);
    const serverUrl = unwrap<string>(await bridge.invoke('serverUrl', []));
    await waitFor(() => smee.open.size === 1, 'the tunnel to connect');
    const { runIds } = await client.triggerRun({ repo: 'acme/web', branch: 'main' });
    const id = instanceId();
    await waitFor(async () => (await containersOf(id)).length > 0, 'the job container', 60_000);

    const quit = standin.liveTrays()[0].menu!.items.find((i) => i.label === 'Quit Kiln')!;
    quit.click();
    // A second Quit while the engine stops must not cut the shutdown short.
    standin.app.quit();
    expect(standin.app.alive).toBe(true);

    expect(await exited).toBe(0);
    expect(await containersOf(id)).toEqual([]);
    expect(smee.open.size).toBe(0);
    await expect(fetch(`${serverUrl}/api/health`)).rejects.toThrow();
    expect(standin.liveTrays()).toEqual([]);
    expect(standin.windows()).toEqual([]);
    expect(standin.ipcMain.handlers.size).toBe(0);

    // The next start finds the run released by the stop, not lost: the engine closed cleanly.
    const next = await launch();
    const again = await rendererOf(next.standin, await mainWindow(next.standin));
    expect((await again.client.getRun(runIds[0])).id).toBe(runIds[0]);
  });

  it('stops what start-up started when Quit comes during start-up', async () => {
    const { standin, exited } = await launch();
    standin.app.quit(); // before the engine, the server and the tunnel are up
    expect(standin.app.alive).toBe(true);
    expect(await exited).toBe(0);
    await new Promise((r) => setTimeout(r, 1000)); // nothing goes on starting after the exit
    expect(standin.windows()).toEqual([]);
    expect(standin.ipcMain.handlers.size).toBe(0);
    expect(smee.open.size).toBe(0);
    // The database was closed cleanly: the next start opens it.
    const next = await launch();
    await mainWindow(next.standin);
  });

  it('hands a second launch over to the first instead of starting a second engine', async () => {
    const first = await launch();
    const window = await mainWindow(first.standin);
    window.close();
    expect(window.isVisible()).toBe(false);

    const second = await launch();
    expect(await second.exited).toBe(0);
    expect(second.standin.windows()).toEqual([]);
    expect(second.standin.liveTrays()).toEqual([]);
    expect(second.standin.ipcMain.handlers.size).toBe(0);

    await waitFor(() => window.isVisible(), 'the first instance to show its window');
    expect(window.isFocused()).toBe(true);
    expect(first.standin.app.alive).toBe(true);
    expect(first.standin.windows()).toEqual([window]);
  });
});

describe('when kiln.config.yml is broken at start', () => {
  it('shows the diagnostics in a window instead of a blank one, starts no engine, and quits when it is closed', async () => {
    writeConfig('server: { port: "seventy" }\nrepositories:\n  - name: acme/web\n    colour: blue\n');
    const { standin, exited } = await launch();
    const page = await waitFor(() => standin.windows().find((w) => w.webContents.getURL().startsWith('data:')), 'the diagnostics window');
    const html = Buffer.from(page.webContents.getURL().split(',')[1], 'base64').toString('utf8');
    const file = join(userData, 'kiln.config.yml');
    expect(html).toContain('Kiln cannot start');
    expect(html).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:1:\\d+`));
    expect(html).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4:\\d+`));
    expect(page.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false });
    expect(page.options.webPreferences?.preload).toBeUndefined();
    expect(existsSync(join(userData, 'data'))).toBe(false);
    expect(standin.liveTrays()).toEqual([]);
    expect(standin.ipcMain.handlers.size).toBe(0);

    page.close();
    expect(await exited).toBe(0);
  });
});

describe("when the operating system's key store is unavailable", () => {
  it('keeps secrets in a 0600 key file instead, and says so in the tray and a notification', async () => {
    const { standin } = await launch((p) => { p.encryptionAvailable = false; });
    const window = await mainWindow(standin);
    const { client } = await rendererOf(standin, window);
    const keyFile = join(userData, 'secret.key');
    const note = standin.liveTrays()[0].menu!.items.find((i) => i.label.startsWith('Secrets are encrypted with the key file'));
    expect(note?.label).toContain(keyFile);
    expect(note?.enabled).toBe(false);
    expect(standin.notifications.map((n) => n.body)).toContain(note?.label);

    await client.saveRepository({ name: 'acme/web', secrets: { NPM_TOKEN: 'npm-very-secret-1' } });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const stored = readFileSync(join(userData, 'secrets.json'), 'utf8');
    expect(stored).toContain('NPM_TOKEN');
    expect(stored).not.toContain('npm-very-secret-1');
    expect((await client.listRepositories())[0].secretNames).toContain('NPM_TOKEN');
  });

  it('shows why it cannot start, instead of building without the secrets, when the key store that encrypted them is gone', async () => {
    const first = await launch();
    const { client } = await rendererOf(first.standin, await mainWindow(first.standin));
    await client.saveRepository({ name: 'acme/web', secrets: { NPM_TOKEN: 'npm-very-secret-3' } });
    first.standin.app.quit();
    expect(await first.exited).toBe(0);

    const { standin, exited } = await launch((p) => { p.encryptionAvailable = false; });
    const page = await waitFor(() => standin.windows().find((w) => w.webContents.getURL().startsWith('data:')), 'the start-up problem window');
    const html = Buffer.from(page.webContents.getURL().split(',')[1], 'base64').toString('utf8');
    expect(html).toContain('Kiln cannot start the engine');
    expect(html).toContain(`the secret key ${join(userData, 'secret.key')} is missing, so the stored secrets cannot be decrypted`);
    expect(html).toContain('the operating system offers no key store to Kiln');
    expect(standin.liveTrays()).toEqual([]);
    expect(standin.ipcMain.handlers.size).toBe(0);
    page.close();
    expect(await exited).toBe(0);
  });

  it('uses the key store when it is there: no key file and no note', async () => {
    const { standin } = await launch();
    const { client } = await rendererOf(standin, await mainWindow(standin));
    await client.saveRepository({ name: 'acme/web', secrets: { NPM_TOKEN: 'npm-very-secret-2' } });
    expect(existsSync(join(userData, 'secret.key'))).toBe(false);
    expect(readFileSync(join(userData, 'secrets.json'), 'utf8')).not.toContain('npm-very-secret-2');
    expect(standin.liveTrays()[0].menu!.items.some((i) => i.label.startsWith('Secrets are encrypted'))).toBe(false);
    expect(standin.notifications).toEqual([]);
  });
});
