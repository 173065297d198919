/**
 * Launches src-main/main.ts as Electron would, on the stand-in: a fresh "process" (vi.resetModules,
 * so main.ts and the stand-in are evaluated anew), the app's userData directory set, main.ts
 * imported, then `ready`. The window's preload is the built bundle (dist/src-main/preload.cjs), run
 * with the one module a sandboxed preload may require: electron. The page's `window.kiln` is then
 * the renderer's real IpcClient's bridge.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { vi } from 'vitest';
import type { KilnBridge } from '../../shared/api/engine-api.js';
import { IpcClient } from '../../src-renderer/api/ipc-client.js';
import type { StandinBrowserWindow } from '../electron-standin/browser-window.js';
import type * as Control from '../electron-standin/control.js';

export type Standin = typeof Control;

export const PRELOAD_BUNDLE = 'dist/src-main/preload.cjs';

/** The preload as `npm run app` and `npm run dist` build it (a small bundle: about a second). */
export function buildPreload(): void {
  execFileSync('npm', ['run', '--silent', 'build:preload'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface LaunchedApp {
  standin: Standin;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number>;
}

/** Starts one process of the app; `platform` adjusts the machine (safeStorage, notifications) first. */
export async function launchApp(userData: string, platform?: (p: Standin['platform']) => void): Promise<LaunchedApp> {
  vi.resetModules();
  const standin = await import('../electron-standin/control.js');
  standin.platform.encryptionAvailable = true;
  standin.platform.notificationsSupported = true;
  platform?.(standin.platform);
  standin.app.setPath('userData', userData);
  await import('../../src-main/main.js');
  standin.app.emitReady();
  return { standin, exited: standin.app.exited };
}

/** The main window once it has loaded the dashboard. */
export async function mainWindow(standin: Standin): Promise<StandinBrowserWindow> {
  return waitFor(() => standin.windows().find((w) => w.options.webPreferences?.preload !== undefined && w.webContents.getURL() !== ''), 'the main window to load the dashboard', 60_000);
}

/** Runs the window's preload bundle in a sandbox-like scope and returns the page's IPC client. */
export async function rendererOf(standin: Standin, window: StandinBrowserWindow): Promise<{ bridge: KilnBridge; client: IpcClient }> {
  const file = window.options.webPreferences!.preload!;
  const code = readFileSync(file, 'utf8');
  const electron = await import('../electron-standin/electron.js');
  const sandboxRequire = (id: string): unknown => {
    if (id === 'electron') return electron;
    throw new Error(`module not found: ${id} (a sandboxed preload may require only electron)`);
  };
  const world = await standin.runPreload(window.webContents, async () => {
    const module = { exports: {} };
    new Function('require', 'module', 'exports', code)(sandboxRequire, module, module.exports);
  });
  const bridge = world.kiln as KilnBridge;
  const client = new IpcClient(bridge);
  await client.init();
  return { bridge, client };
}

/** A local smee.io channel: counts the tunnel's connections and which are still open. */
export class FakeSmee {
  readonly open = new Set<ServerResponse>();
  connections = 0;
  url = '';
  private server: Server | undefined;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.connections++;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(': ready\n\n');
      this.open.add(res);
      req.on('close', () => this.open.delete(res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/kiln-app-test`;
  }

  async stop(): Promise<void> {
    for (const r of this.open) r.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}
