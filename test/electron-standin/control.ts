/**
 * The test's side of the stand-in: the platform's switches, the user's actions (ready, closing a
 * window, clicking the tray) and what main.ts left behind (windows, trays, notifications, handlers).
 * Import it after the same vi.resetModules() as main.ts, so both see one process's stand-in.
 */
import { app } from './app.js';
import { StandinBrowserWindow, type StandinWebContents } from './browser-window.js';
import { ipcMain, preloadTarget } from './ipc.js';
import { notifications, session, shell, trays, type StandinTray } from './system.js';
import { machine, platform } from './state.js';

export { app, ipcMain, machine, notifications, platform, session, shell };

export const windows = (): StandinBrowserWindow[] => StandinBrowserWindow.getAllWindows();
export const liveTrays = (): StandinTray[] => [...trays];

/**
 * Runs a preload for `contents` as Electron does before the page's scripts. All windows share this
 * one process here, so `ipcRenderer` and `contextBridge` act for the window whose preload ran last
 * (the app has one window with a preload); a destroyed window's renderer can no longer call.
 */
export async function runPreload(contents: StandinWebContents, load: () => Promise<unknown>): Promise<Record<string, unknown>> {
  preloadTarget.contents = contents;
  await load();
  return contents.mainWorld;
}
