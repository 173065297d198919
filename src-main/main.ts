/**
 * Electron composition root: wiring only. The engine, the embedded HTTP server (webhooks, badges,
 * downloads), the smee tunnel, the window, the tray, notifications and the IPC router. Logic lives
 * in plain modules under src-main/electron/ (tested without Electron).
 *
 * Lifecycle: closing the window hides it (builds keep running; the tray shows how many); Quit
 * (tray menu, Cmd+Q) stops the tunnel and the server, cancels running jobs and cleans up through
 * engine.stop(), then exits.
 */
import { app, BrowserWindow, Menu, Notification, Tray, ipcMain, nativeImage, safeStorage, session, shell } from 'electron';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { IPC_EVENT_CHANNEL } from '../shared/api/engine-api.js';
import { formatDiagnostic, hasErrors } from '../shared/diagnostics.js';
import { CONFIG_FILE, loadConfig } from './config.js';
import { Engine } from './engine/engine.js';
import { startServer, type RunningServer } from './http/app.js';
import { controlTunnel } from './trigger/tunnel-control.js';
import { createDesktopApi } from './electron/desktop-api.js';
import { forwardEngineEvents } from './electron/event-forwarder.js';
import { registerIpcRouter } from './electron/ipc-router.js';
import { NotifyPolicy } from './electron/notify-policy.js';
import { RunCounter, trayTooltip } from './electron/run-counter.js';
import { SecretVault } from './storage/secret-vault.js';
import { decideNavigation, isAppFrame, RENDERER_CSP, WINDOW_WEB_PREFERENCES } from './electron/window-security.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const rendererIndex = join(root, 'dist-renderer', 'index.html');
const appUrl = pathToFileURL(rendererIndex).toString();
const asset = (name: string): string => join(root, 'assets', name);

let window: BrowserWindow | null = null;
let tray: Tray | null = null;
let quitting = false;

if (!app.requestSingleInstanceLock()) app.quit();

function fail(message: string): never {
  console.error(`kiln: ${message}`);
  app.exit(1);
  throw new Error(message);
}

async function boot(): Promise<void> {
  const userData = app.getPath('userData');
  // The settings page writes this file (creating it on the first save) and the vault beside it.
  const settingsFile = join(userData, CONFIG_FILE);
  const configFile = existsSync(settingsFile) ? settingsFile : undefined;
  const loaded = loadConfig(configFile);
  for (const d of loaded.diagnostics) console.error(formatDiagnostic(d));
  if (!loaded.config || hasErrors(loaded.diagnostics)) fail(`fix ${configFile ?? 'the configuration'} and start again`);
  const config = loaded.config;
  const secretsFile = join(userData, 'secrets.json');

  // Stored secrets (safeStorage) join the configuration inside Engine.start.
  const engine = await Engine.start({ config, dataDir: join(userData, 'data'), configFile: settingsFile, vault: new SecretVault(secretsFile, safeStorage) });
  let server: RunningServer;
  try {
    server = await startServer({ engine, artifacts: engine.artifacts, staticDir: join(root, 'dist-renderer') });
  } catch {
    // The configured port is taken (another Kiln?): webhooks still need a listener, so take any port.
    server = await startServer({ engine, port: 0, artifacts: engine.artifacts, staticDir: join(root, 'dist-renderer') });
  }
  const tunnel = controlTunnel(engine, { target: `${server.url}/webhooks/github`, logger: { info: () => undefined, error: (m) => console.error(m) } });

  const disposeIpc = registerIpcRouter(ipcMain, {
    engine,
    desktop: createDesktopApi({ serverUrl: () => server.url }),
    isTrustedSender: (url) => isAppFrame(url, appUrl),
    onInternalError: (method, err) => console.error(`kiln: ${method} failed:`, err),
  });

  // Strict CSP on every response the session sees, on top of the page's <meta> CSP.
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [RENDERER_CSP] } });
  });
  session.defaultSession.setPermissionRequestHandler((_wc, permission, callback) => callback(permission === 'notifications'));

  // Tray: the count of running builds; notifications for the default branches.
  const counter = new RunCounter();
  const policy = new NotifyPolicy((repo) => config.repositories.find((r) => r.name === repo)?.defaultBranch);
  for (const repo of config.repositories) {
    const last = (await engine.listRuns({ repo: repo.name, branch: repo.defaultBranch, limit: 5 })).items.find((r) => r.status !== 'running' && r.status !== 'queued' && r.event !== 'pull_request');
    if (last) policy.seed(repo.name, last.status);
  }
  for (const status of ['running', 'queued'] as const) for (const run of (await engine.listRuns({ status, limit: 200 })).items) counter.onRun(run);

  tray = new Tray(nativeImage.createFromPath(asset('tray.png')));
  const updateTray = (): void => {
    tray?.setToolTip(trayTooltip(counter.running, counter.queued));
    tray?.setContextMenu(Menu.buildFromTemplate([
      { label: trayTooltip(counter.running, counter.queued), enabled: false },
      { type: 'separator' },
      { label: 'Open Kiln', click: () => showWindow() },
      { label: `Webhooks at ${server.url}/webhooks/github`, enabled: false },
      { type: 'separator' },
      { label: 'Quit Kiln', click: () => app.quit() },
    ]));
  };
  updateTray();
  tray.on('click', () => showWindow());

  engine.subscribe((event) => {
    if (event.type !== 'run') return;
    if (counter.onRun(event.run)) updateTray();
    const notice = policy.onRun(event.run);
    if (notice && Notification.isSupported()) {
      const n = new Notification({ title: notice.title, body: notice.body, icon: asset('icon.png') });
      n.on('click', () => { showWindow(); window?.webContents.executeJavaScript(`location.hash = ${JSON.stringify(`#/runs/${encodeURIComponent(notice.runId)}`)}`).catch(() => undefined); });
      n.show();
    }
  });

  const stopForwarding = forwardEngineEvents(engine, (event) => {
    if (window && !window.isDestroyed()) window.webContents.send(IPC_EVENT_CHANNEL, event);
  });

  function showWindow(): void {
    if (window && !window.isDestroyed()) {
      window.show();
      window.focus();
      return;
    }
    window = new BrowserWindow({
      width: 1360, height: 860, minWidth: 1024, minHeight: 640, show: false, title: 'Kiln', icon: asset('icon.png'),
      backgroundColor: '#f5f7fa',
      webPreferences: { ...WINDOW_WEB_PREFERENCES, preload: join(here, 'preload.cjs') },
    });
    const contents = window.webContents;
    contents.setWindowOpenHandler(({ url }) => {
      if (decideNavigation(url, appUrl, server.url) === 'external') void shell.openExternal(url);
      return { action: 'deny' };
    });
    contents.on('will-navigate', (event, url) => {
      const decision = decideNavigation(url, appUrl, server.url);
      if (decision === 'allow') return;
      event.preventDefault();
      if (decision === 'download') contents.downloadURL(url);
      else if (decision === 'external') void shell.openExternal(url);
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
    window.once('ready-to-show', () => window?.show());
    window.on('close', (event) => {
      // Builds keep running in the tray; Quit is in the tray menu.
      if (!quitting) {
        event.preventDefault();
        window?.hide();
      }
    });
    window.on('closed', () => { window = null; });
    void window.loadFile(rendererIndex);
  }

  app.on('second-instance', () => showWindow());
  app.on('activate', () => showWindow());
  app.on('before-quit', (event) => {
    if (quitting) return;
    quitting = true;
    event.preventDefault();
    void (async () => {
      try {
        stopForwarding();
        disposeIpc();
        await tunnel.stop();
        await server.close();
        await engine.stop(); // cancels running jobs, removes their containers, closes the database
      } catch (err) {
        console.error('kiln: shutdown:', err);
      } finally {
        tray?.destroy();
        app.exit(0);
      }
    })();
  });
  showWindow();
}

// Closing every window must not quit: the engine keeps building in the tray.
app.on('window-all-closed', () => undefined);
app.whenReady().then(boot).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
