import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// The stand-in must say "no" where Electron does, or main.ts's tests would pass against a kinder
// platform than users have. Each test is a fresh process (fresh stand-in modules).
type Electron = typeof import('../electron-standin/electron.js');
type Control = typeof import('../electron-standin/control.js');
let electron: Electron;
let control: Control;
let userData: string;

beforeEach(async () => {
  vi.resetModules();
  electron = await import('../electron-standin/electron.js');
  control = await import('../electron-standin/control.js');
  control.platform.encryptionAvailable = true;
  control.platform.notificationsSupported = true;
  userData = mkdtempSync(join(tmpdir(), 'kiln-standin-'));
  electron.app.setPath('userData', userData);
});

afterEach(() => {
  if (electron.app.alive) electron.app.exit(0);
  rmSync(userData, { recursive: true, force: true });
});

/** A second process of the same app on the same userData directory. */
async function secondProcess(): Promise<Electron> {
  vi.resetModules();
  const other = await import('../electron-standin/electron.js');
  other.app.setPath('userData', userData);
  return other;
}

describe('the stand-in for electron', () => {
  it('exports every name main.ts imports from electron', () => {
    const line = /import \{([^}]+)\} from 'electron';/.exec(readFileSync('src-main/main.ts', 'utf8'));
    const names = line![1].split(',').map((n) => n.trim()).filter(Boolean);
    expect(names.length).toBeGreaterThan(5);
    for (const name of names) expect(electron, name).toHaveProperty(name);
  });

  it('resolves whenReady once, and refuses a window or a tray before it', async () => {
    const { app, BrowserWindow, Tray } = electron;
    const ready = vi.fn();
    app.on('ready', ready);
    expect(app.isReady()).toBe(false);
    expect(() => new BrowserWindow()).toThrow('Cannot create BrowserWindow before app is ready');
    expect(() => new Tray('assets/tray.png')).toThrow('Cannot create Tray before app is ready');
    const first = app.whenReady();
    app.emitReady();
    await first;
    expect(app.whenReady()).toBe(first);
    expect(() => app.emitReady()).toThrow('ready fires once');
    expect(ready).toHaveBeenCalledTimes(1);
  });

  it('lets before-quit prevent the quit, and a window that prevents close cancel it', () => {
    const { app, BrowserWindow } = electron;
    app.emitReady();
    const block = (e: { preventDefault(): void }) => e.preventDefault();
    app.once('before-quit', block);
    app.quit();
    expect(app.alive).toBe(true);

    const window = new BrowserWindow({ show: true });
    window.once('close', block);
    const willQuit = vi.fn();
    app.on('will-quit', willQuit);
    app.quit();
    expect(app.alive).toBe(true);
    expect(window.isDestroyed()).toBe(false);
    expect(willQuit).not.toHaveBeenCalled();

    app.quit();
    expect(window.isDestroyed()).toBe(true);
    expect(willQuit).toHaveBeenCalledTimes(1);
    expect(app.alive).toBe(false);
    expect(app.exitCode).toBe(0);
  });

  it('ends at once on exit, without before-quit, will-quit or close', async () => {
    const { app, BrowserWindow } = electron;
    app.emitReady();
    const seen: string[] = [];
    for (const name of ['before-quit', 'will-quit', 'quit'] as const) app.on(name as 'quit', () => seen.push(name));
    const window = new BrowserWindow();
    window.on('close', () => seen.push('close'));
    window.on('closed', () => seen.push('closed'));
    app.exit(3);
    expect(await app.exited).toBe(3);
    expect(seen).toEqual(['closed']);
    expect(() => window.show()).toThrow('Object has been destroyed');
  });

  it('quits when the last window closes and nobody listens for window-all-closed', () => {
    const { app, BrowserWindow } = electron;
    app.emitReady();
    new BrowserWindow().close();
    expect(app.alive).toBe(false);
  });

  it('denies a second instance the lock and tells the first, until the first has ended', async () => {
    const { app } = electron;
    expect(app.requestSingleInstanceLock()).toBe(true);
    const told = new Promise<unknown[]>((resolve) => app.on('second-instance', (_e, argv, cwd, data) => resolve([argv, cwd, data])));
    const other = await secondProcess();
    expect(other.app.requestSingleInstanceLock({ from: 'second' })).toBe(false);
    expect(other.app.hasSingleInstanceLock()).toBe(false);
    expect((await told)[2]).toEqual({ from: 'second' });
    app.exit(0);
    const third = await secondProcess();
    expect(third.app.requestSingleInstanceLock()).toBe(true);
    third.app.exit(0);
  });

  it('has safeStorage say no when the OS key store is unavailable, and before ready on Linux', () => {
    const { app, safeStorage } = electron;
    if (process.platform === 'linux') expect(safeStorage.isEncryptionAvailable()).toBe(false);
    app.emitReady();
    const cipher = safeStorage.encryptString('hunter2');
    expect(cipher.toString('utf8')).not.toContain('hunter2');
    expect(safeStorage.decryptString(cipher)).toBe('hunter2');
    expect(() => safeStorage.decryptString(Buffer.from('v11garbage-garbage-garbage-garbage'))).toThrow('Error while decrypting');
    control.platform.encryptionAvailable = false;
    expect(safeStorage.isEncryptionAvailable()).toBe(false);
    expect(() => safeStorage.encryptString('hunter2')).toThrow('Encryption is not available');
  });

  it('allows one ipcMain handler per channel and rejects an invoke nobody handles', async () => {
    const { app, BrowserWindow, ipcMain } = electron;
    app.emitReady();
    ipcMain.handle('kiln:test', (_e, n) => (n as number) + 1);
    expect(() => ipcMain.handle('kiln:test', () => 0)).toThrow("Attempted to register a second handler for 'kiln:test'");
    const window = new BrowserWindow({ webPreferences: { contextIsolation: true } });
    await expect(ipcMain.invokeFrom(window.webContents, 'kiln:test', [1])).resolves.toBe(2);
    await expect(ipcMain.invokeFrom(window.webContents, 'kiln:other', [])).rejects.toThrow("No handler registered for 'kiln:other'");
    // What crosses is structured-cloned: a function does not.
    expect(() => window.webContents.send('kiln:event', { f: () => 1 })).toThrow();
  });

  it('rejects loading a file that does not exist, and shows a window only when asked', async () => {
    const { app, BrowserWindow } = electron;
    app.emitReady();
    const window = new BrowserWindow({ show: false });
    expect(window.isVisible()).toBe(false);
    await expect(window.loadFile(join(userData, 'missing.html'))).rejects.toThrow('ERR_FILE_NOT_FOUND');
  });

  it('refuses contextBridge without context isolation, clicks on disabled menu items and empty images', async () => {
    const { app, BrowserWindow, Menu, contextBridge, nativeImage } = electron;
    app.emitReady();
    const window = new BrowserWindow({ webPreferences: { contextIsolation: false } });
    await expect(control.runPreload(window.webContents, async () => contextBridge.exposeInMainWorld('kiln', {}))).rejects.toThrow('contextIsolation');
    const click = vi.fn();
    const menu = Menu.buildFromTemplate([{ label: 'Idle', enabled: false, click }, { type: 'separator' }, { label: 'Quit', click }]);
    expect(() => menu.items[0].click()).toThrow('cannot be clicked');
    menu.items[2].click();
    expect(click).toHaveBeenCalledTimes(1);
    expect(nativeImage.createFromPath(join(userData, 'none.png')).isEmpty()).toBe(true);
    expect(nativeImage.createFromPath('package.json').isEmpty()).toBe(true);
    expect(nativeImage.createFromPath('assets/tray.png').isEmpty()).toBe(false);
  });
});
