/**
 * Electron composition root: wiring only. The engine, the embedded HTTP server (webhooks, badges,
 * downloads), the smee tunnel, the window, the tray, notifications and the IPC router. Logic lives
 * in plain modules under src-main/electron/ (tested without Electron).
 *
 * Lifecycle: one instance per user (a second launch shows the first one's window and quits);
 * closing the window hides it (builds keep running; the tray shows how many); Quit (tray menu,
 * Cmd+Q) stops the tunnel and the server, cancels running jobs and cleans up through engine.stop(),
 * then exits. A broken kiln.config.yml or an engine that cannot start opens a window listing the
 * problems. Without an OS key store, secrets fall back to a key file and the tray says so.
 *
 * Tests run this file itself under a stand-in for the `electron` module (test/electron-standin/).
 */
import { app, BrowserWindow, Menu, Notification, Tray, ipcMain, nativeImage, safeStorage, session, shell } from 'electron';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { IPC_EVENT_CHANNEL } from '../shared/api/engine-api.js';
import { formatDiagnostic, hasErrors } from '../shared/diagnostics.js';
import { CONFIG_FILE, loadConfig } from './settings/config-file.js';
import { Engine } from './engine/engine.js';
import { startServer, type RunningServer } from './http/app.js';
import { controlTunnel } from './trigger/tunnel-control.js';
import { createDesktopApi } from './electron/desktop-api.js';
import { forwardEngineEvents } from './electron/event-forwarder.js';
import { registerIpcRouter } from './electron/ipc-router.js';
import { NotifyPolicy } from './electron/notify-policy.js';
import { RunCounter, trayTooltip } from './electron/run-counter.js';
import { chooseSecretStorage } from './electron/secret-storage.js';
import { startupProblemUrl, type StartupProblem } from './electron/startup-problem.js';
import { trayMenu } from './electron/tray-menu.js';
import { SecretVault } from './storage/secret-vault.js';
import { decideNavigation, isAppFrame, RENDERER_CSP, WINDOW_WEB_PREFERENCES } from './electron/window-security.js';
import { errorLine } from './core/error-line.js';

// Where `electron .` (or the packaged app.asar) has package.json: dist/, dist-renderer/ and assets/ sit beside it.
const appPath = app.getAppPath();
const rendererIndex = join(appPath, 'dist-renderer', 'index.html');
const appUrl = pathToFileURL(rendererIndex).toString();
const preloadScript = join(appPath, 'dist', 'src-main', 'preload.cjs');
const asset = (name: string): string => join(appPath, 'assets', name);

let window: BrowserWindow | null = null;
let tray: Tray | null = null;
let quitting = false;
/** Set once boot has started the engine: the second-instance handler and Quit act through it. */
let running: { showWindow(): void; stop(): Promise<void> } | undefined;
let booting: Promise<void> = Promise.resolve();

/** Instead of a blank window (or a silent exit): the problems and what to do. Closing it quits. */
function showStartupProblem(problem: StartupProblem): void {
  for (const line of problem.lines) console.error(`kiln: ${line}`);
  const page = new BrowserWindow({
    width: 900, height: 560, title: 'Kiln cannot start', icon: asset('icon.png'), backgroundColor: '#f5f7fa',
    webPreferences: { ...WINDOW_WEB_PREFERENCES },
  });
  page.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  page.webContents.on('will-navigate', (event) => event.preventDefault());
  page.on('closed', () => app.quit());
  page.loadURL(startupProblemUrl(problem)).catch((err: unknown) => console.error('kiln: cannot show the start-up problem:', err));
}

async function boot(): Promise<void> {
  const userData = app.getPath('userData');
  // The settings page writes this file (creating it on the first save) and the vault beside it.
  const settingsFile = join(userData, CONFIG_FILE);
  const configFile = existsSync(settingsFile) ? settingsFile : undefined;
  const loaded = loadConfig(configFile);
  if (!loaded.config || hasErrors(loaded.diagnostics)) {
    showStartupProblem({ title: 'Kiln cannot start: the configuration has errors', lines: loaded.diagnostics.map(formatDiagnostic), hint: `Fix ${settingsFile} and start Kiln again.` });
    return;
  }
  for (const d of loaded.diagnostics) console.error(formatDiagnostic(d));
  const config = loaded.config;

  // Stored secrets join the configuration inside Engine.start; without an OS key store, a key file.
  const secretStorage = chooseSecretStorage(safeStorage, join(userData, 'secret.key'));
  let engine: Engine;
  try {
    engine = await Engine.start({ config, dataDir: join(userData, 'data'), configFile: settingsFile, vault: new SecretVault(join(userData, 'secrets.json'), secretStorage.encryptor) });
  } catch (err) {
    // With the key-file fallback, a vault the OS key store wrote cannot be read: say which store was used.
    const lines = [err instanceof Error ? err.message : String(err), ...(secretStorage.note ? [secretStorage.note] : [])];
    showStartupProblem({ title: 'Kiln cannot start the engine', lines, hint: 'Fix the problem above and start Kiln again.' });
    return;
  }
  try {
    running = await openDesktop(engine, config, secretStorage.note);
  } catch (err) {
    await engine.stop().catch(() => undefined); // nothing may keep building behind a failed start
    throw err; // shown in the start-up problem window
  }
  running.showWindow();
}

/** The engine's faces: HTTP server, tunnel, IPC, session rules, tray, notifications and the window. */
async function openDesktop(engine: Engine, config: Engine['config'], secretNote: string | undefined): Promise<NonNullable<typeof running>> {
  let server: RunningServer;
  try {
    server = await startServer({ engine, artifacts: engine.artifacts, staticDir: join(appPath, 'dist-renderer') });
  } catch {
    // The configured port is taken (another Kiln?): webhooks still need a listener, so take any port.
    server = await startServer({ engine, port: 0, artifacts: engine.artifacts, staticDir: join(appPath, 'dist-renderer') });
  }
  const tunnel = controlTunnel(engine, { target: `${server.url}/webhooks/github`, logger: { info: () => undefined, error: (m) => console.error(m) } });

  const disposeIpc = registerIpcRouter(ipcMain, {
    engine,
    desktop: createDesktopApi({ serverUrl: () => server.url, terminalUrl: (jobId) => server.terminalUrl?.(jobId) }),
    isTrustedSender: (url) => isAppFrame(url, appUrl),
    onInternalError: (method, err) => console.error(errorLine(`kiln: ${method} failed`, err)),
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
    tray?.setContextMenu(Menu.buildFromTemplate(trayMenu({
      counts: trayTooltip(counter.running, counter.queued), webhookUrl: `${server.url}/webhooks/github`, note: secretNote,
      open: () => showWindow(), quit: () => app.quit(),
    })));
  };
  updateTray();
  tray.on('click', () => showWindow());
  if (secretNote) {
    console.error(`kiln: ${secretNote}`);
    if (Notification.isSupported()) new Notification({ title: 'Kiln: secrets in a key file', body: secretNote, icon: asset('icon.png') }).show();
  }

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
    if (quitting) return;
    if (window && !window.isDestroyed()) {
      window.show();
      window.focus();
      return;
    }
    window = new BrowserWindow({
      width: 1360, height: 860, minWidth: 1024, minHeight: 640, show: false, title: 'Kiln', icon: asset('icon.png'),
      backgroundColor: '#f5f7fa',
      webPreferences: { ...WINDOW_WEB_PREFERENCES, preload: preloadScript },
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
    window.loadFile(rendererIndex).catch((err: unknown) => console.error(`kiln: cannot load ${rendererIndex} (run npm run build):`, err));
  }

  return {
    showWindow,
    async stop() {
      stopForwarding();
      disposeIpc();
      await tunnel.stop();
      await server.close();
      await engine.stop(); // cancels running jobs, removes their containers, closes the database
    },
  };
}

// One Kiln per user: a second launch hands over to the first (which shows its window) and quits
// before it starts anything. Every app handler is registered now, before ready, so a second launch
// or a Quit during boot is not lost.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => running?.showWindow());
  app.on('activate', () => running?.showWindow());
  // Closing every window must not quit: the engine keeps building in the tray.
  app.on('window-all-closed', () => undefined);
  app.on('before-quit', (event) => {
    // Held until the engine has stopped (a second Quit meanwhile must not cut that short); app.exit
    // then ends the process without another before-quit.
    event.preventDefault();
    if (quitting) return;
    quitting = true;
    void (async () => {
      try {
        if (app.isReady()) await booting; // a Quit during boot stops what boot started
        await running?.stop();
      } catch (err) {
        console.error('kiln: shutdown:', err);
      } finally {
        tray?.destroy();
        app.exit(0);
      }
    })();
  });
  booting = app.whenReady().then(boot).catch((err: unknown) => {
    showStartupProblem({ title: 'Kiln cannot start', lines: [err instanceof Error ? err.message : String(err)], hint: 'Fix the problem above and start Kiln again.' });
  });
}
