/**
 * What `import ... from 'electron'` resolves to in the `app` test project (vitest.config.ts), so
 * that src-main/main.ts itself runs in the tests without Electron's binary. Only the main-process
 * API the app uses, plus the preload's ipcRenderer and contextBridge. Every piece implements a
 * Pick<> of Electron's own type (electron.d.ts), and shape-check.ts proves each export name exists in
 * the real module, so the stand-in cannot drift from the API main.ts is compiled against.
 * Tests drive it through control.ts.
 */
export { app } from './app.js';
export { StandinBrowserWindow as BrowserWindow } from './browser-window.js';
export { contextBridge, ipcMain, ipcRenderer } from './ipc.js';
export {
  StandinMenu as Menu, StandinNotification as Notification, StandinTray as Tray, nativeImage, safeStorage, session, shell,
} from './system.js';
