/**
 * `ipcMain` (handle/removeHandler, one handler per channel as Electron enforces), and the renderer
 * side a preload sees: `ipcRenderer` and `contextBridge`, bound to the webContents whose preload is
 * running (runPreload in control.ts). Everything that crosses is structured-cloned, as in Electron:
 * a function or class instance does not survive the trip.
 */
/// <reference types="electron" />
import type { StandinWebContents } from './browser-window.js';
import type { ShapeOf } from './state.js';

type Handler = (event: Electron.IpcMainInvokeEvent, ...args: unknown[]) => unknown;

class StandinIpcMain implements Pick<Electron.IpcMain, 'handle' | 'removeHandler'> {
  readonly handlers = new Map<string, Handler>();

  handle(channel: string, listener: Handler): void {
    if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, listener);
  }

  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }

  /** The renderer's invoke arriving: the sender's frame is the page the webContents shows. */
  async invokeFrom(sender: StandinWebContents, channel: string, args: unknown[]): Promise<unknown> {
    const handler = this.handlers.get(channel);
    if (!handler) throw new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`);
    const event = { sender, senderFrame: { url: sender.getURL() }, processId: 1, frameId: 1 } as unknown as Electron.IpcMainInvokeEvent;
    try {
      return structuredClone(await handler(event, ...structuredClone(args)));
    } catch (err) {
      throw new Error(`Error invoking remote method '${channel}': ${String(err)}`);
    }
  }
}

export const ipcMain = new StandinIpcMain();

/** The renderer: the webContents whose preload ran (control.ts runPreload). */
export const preloadTarget: { contents: StandinWebContents | undefined } = { contents: undefined };

function target(): StandinWebContents {
  if (!preloadTarget.contents) throw new Error('electron stand-in: ipcRenderer and contextBridge exist only in a preload');
  if (preloadTarget.contents.isDestroyed()) throw new Error('electron stand-in: the renderer is gone (its window was destroyed)');
  return preloadTarget.contents;
}

type RendererListener = (event: Electron.IpcRendererEvent, ...args: unknown[]) => void;

class StandinIpcRenderer implements ShapeOf<Electron.IpcRenderer, 'invoke' | 'on' | 'removeListener'> {
  invoke(channel: string, ...args: unknown[]): Promise<unknown> {
    return ipcMain.invokeFrom(target(), channel, args);
  }

  on(channel: string, listener: RendererListener): this {
    target().rendererListeners.push({ channel, listener });
    return this;
  }

  removeListener(channel: string, listener: RendererListener): this {
    const list = target().rendererListeners;
    const i = list.findIndex((l) => l.channel === channel && l.listener === listener);
    if (i >= 0) list.splice(i, 1);
    return this;
  }
}

export const ipcRenderer = new StandinIpcRenderer();

export const contextBridge = {
  exposeInMainWorld(apiKey: string, api: unknown): void {
    const contents = target();
    if (contents.webPreferences.contextIsolation === false) throw new Error('contextBridge API can only be used when contextIsolation is enabled');
    if (apiKey in contents.mainWorld) throw new Error(`Cannot bind an API on top of an existing property on the window object: ${apiKey}`);
    contents.mainWorld[apiKey] = api;
  },
} satisfies Pick<Electron.ContextBridge, 'exposeInMainWorld'>;
