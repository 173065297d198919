/**
 * The one allowed stand-in: Electron's ipcMain/ipcRenderer pair (the Electron binary cannot run
 * here). It mimics what matters: invoke → the registered handler with an event carrying the
 * sender frame URL, structured cloning of arguments and results, and send → renderer listeners.
 */
import type { IpcInvokeEventLike, IpcMainLike } from '../../src-main/electron/ipc-router.js';
import type { IpcRendererLike } from '../../src-main/electron/bridge-api.js';

type Handler = (event: IpcInvokeEventLike, ...args: unknown[]) => unknown;
type Listener = (event: unknown, ...args: unknown[]) => void;

export class FakeIpc {
  readonly handlers = new Map<string, Handler>();
  readonly listeners = new Map<string, Set<Listener>>();
  frameUrl = 'file:///app/dist-renderer/index.html';

  readonly main: IpcMainLike = {
    handle: (channel, listener) => {
      if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
      this.handlers.set(channel, listener);
    },
    removeHandler: (channel) => { this.handlers.delete(channel); },
  };

  readonly renderer: IpcRendererLike = {
    invoke: async (channel, ...args) => {
      const handler = this.handlers.get(channel);
      if (!handler) throw new Error(`No handler registered for '${channel}'`);
      return structuredClone(await handler({ senderFrame: { url: this.frameUrl } }, ...structuredClone(args)));
    },
    on: (channel, listener) => {
      const set = this.listeners.get(channel) ?? new Set();
      set.add(listener);
      this.listeners.set(channel, set);
    },
    removeListener: (channel, listener) => { this.listeners.get(channel)?.delete(listener); },
  };

  /** webContents.send from main. */
  send(channel: string, payload: unknown): void {
    for (const l of this.listeners.get(channel) ?? []) l({ sender: 'the-electron-event-object' }, structuredClone(payload));
  }
}
