/**
 * `BrowserWindow` and its `webContents`, recording what main.ts asked for (the constructor options,
 * the window-open handler, downloads, messages sent) and acting as Electron documents: no window
 * before `ready`; `close` is preventable, `destroy` is not; a destroyed window throws on use;
 * `loadFile` of a missing file rejects with ERR_FILE_NOT_FOUND; `ready-to-show` after the first
 * load; `will-navigate` is preventable. The user's side (navigate, window.open, webview) is driven
 * from the test through the methods marked "user".
 */
/// <reference types="electron" />
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { app, type ClosableWindow } from './app.js';
import { electronEvent, type ShapeOf } from './state.js';

let nextId = 1;
const all = new Set<StandinBrowserWindow>();

type WebContentsShape = Pick<Electron.WebContents,
  'getURL' | 'loadURL' | 'loadFile' | 'send' | 'setWindowOpenHandler' | 'downloadURL' | 'executeJavaScript' | 'isDestroyed'> & ShapeOf<Electron.WebContents, 'on' | 'once'>;

export class StandinWebContents extends EventEmitter implements WebContentsShape {
  readonly id = nextId++;
  private url = '';
  private openHandler: ((details: Electron.HandlerDetails) => Electron.WindowOpenHandlerResponse) | undefined;
  /** What main sent on each channel (structured clones), in order. */
  readonly sent: Array<{ channel: string; args: unknown[] }> = [];
  readonly downloads: string[] = [];
  readonly scripts: string[] = [];
  /** What the preload exposed through contextBridge (the page's `window`). */
  readonly mainWorld: Record<string, unknown> = {};
  readonly rendererListeners: Array<{ channel: string; listener: (event: Electron.IpcRendererEvent, ...args: unknown[]) => void }> = [];
  destroyed = false;

  constructor(readonly owner: StandinBrowserWindow, readonly webPreferences: Electron.WebPreferences) {
    super();
  }

  getURL(): string {
    return this.url;
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  private alive(): void {
    if (this.destroyed) throw new TypeError('Object has been destroyed');
  }

  async loadURL(url: string): Promise<void> {
    this.alive();
    const parsed = new URL(url);
    if (parsed.protocol === 'file:' && !existsSync(fileURLToPath(parsed))) {
      this.emit('did-fail-load', electronEvent(), -6, 'ERR_FILE_NOT_FOUND', url, true);
      throw new Error(`ERR_FILE_NOT_FOUND (-6) loading '${url}'`);
    }
    const first = this.url === '';
    this.url = url;
    await new Promise((r) => setImmediate(r));
    this.emit('did-finish-load', electronEvent());
    if (first) this.owner.emit('ready-to-show', electronEvent());
  }

  loadFile(filePath: string): Promise<void> {
    return this.loadURL(pathToFileURL(resolve(filePath)).toString());
  }

  send(channel: string, ...args: unknown[]): void {
    this.alive();
    const cloned = structuredClone(args);
    this.sent.push({ channel, args: cloned });
    const event = { sender: undefined, senderId: 0, ports: [] } as unknown as Electron.IpcRendererEvent;
    for (const l of this.rendererListeners.filter((x) => x.channel === channel)) l.listener(event, ...structuredClone(cloned));
  }

  setWindowOpenHandler(handler: (details: Electron.HandlerDetails) => Electron.WindowOpenHandlerResponse): void {
    this.openHandler = handler;
  }

  downloadURL(url: string): void {
    this.downloads.push(url);
  }

  async executeJavaScript(code: string): Promise<unknown> {
    this.alive();
    this.scripts.push(code);
    return undefined;
  }

  /** User: clicks a link to `url` in the page. Returns whether the page left for it. */
  navigate(url: string): boolean {
    const event = electronEvent({ url, isSameDocument: false, isMainFrame: true, frame: null, initiator: null });
    this.emit('will-navigate', event, url, false, true, 1, 1);
    if (event.defaultPrevented) return false;
    this.url = url;
    return true;
  }

  /** User: the page calls window.open(url). Without a handler Electron allows it. */
  openWindow(url: string): Electron.WindowOpenHandlerResponse {
    return this.openHandler?.({ url, frameName: '', features: '', disposition: 'new-window', referrer: { url: this.url, policy: 'default' }, postBody: undefined } as unknown as Electron.HandlerDetails) ?? { action: 'allow' };
  }

  /** User: the page adds a <webview>. Returns whether it was attached. */
  attachWebview(src: string): boolean {
    const event = electronEvent();
    this.emit('will-attach-webview', event, {}, { src });
    return !event.defaultPrevented;
  }
}

type WindowShape = Pick<Electron.BrowserWindow, 'show' | 'hide' | 'focus' | 'close' | 'destroy' | 'isDestroyed' | 'isVisible' | 'isFocused' | 'loadFile' | 'loadURL' | 'getTitle'> & ShapeOf<Electron.BrowserWindow, 'on' | 'once'>;

export class StandinBrowserWindow extends EventEmitter implements WindowShape, ClosableWindow {
  static getAllWindows(): StandinBrowserWindow[] {
    return [...all];
  }

  readonly id = nextId++;
  readonly webContents: StandinWebContents;
  private visible: boolean;
  private focused = false;
  private destroyed = false;

  constructor(readonly options: Electron.BrowserWindowConstructorOptions = {}) {
    super();
    if (!app.isReady()) throw new Error('Cannot create BrowserWindow before app is ready');
    this.webContents = new StandinWebContents(this, { contextIsolation: true, sandbox: true, nodeIntegration: false, ...options.webPreferences });
    this.visible = options.show !== false;
    all.add(this);
    app.windows.add(this);
  }

  private alive(): void {
    if (this.destroyed) throw new TypeError('Object has been destroyed');
  }

  show(): void {
    this.alive();
    this.visible = true;
    this.focused = true;
    this.emit('show');
  }

  hide(): void {
    this.alive();
    this.visible = false;
    this.focused = false;
    this.emit('hide');
  }

  focus(): void {
    this.alive();
    this.focused = true;
  }

  isVisible(): boolean {
    return this.visible && !this.destroyed;
  }

  isFocused(): boolean {
    return this.focused && !this.destroyed;
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  getTitle(): string {
    return this.options.title ?? '';
  }

  loadFile(filePath: string): Promise<void> {
    return this.webContents.loadFile(filePath);
  }

  loadURL(url: string): Promise<void> {
    return this.webContents.loadURL(url);
  }

  /** As the user clicking × (or main calling close()): `close` can be prevented. */
  close(): void {
    this.tryClose();
  }

  tryClose(): boolean {
    if (this.destroyed) return true;
    const event = electronEvent();
    this.emit('close', event);
    if (event.defaultPrevented) return false;
    this.destroy();
    return true;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.visible = false;
    this.webContents.destroyed = true;
    all.delete(this);
    app.windows.delete(this);
    this.emit('closed');
    if (all.size === 0) app.lastWindowClosed();
  }
}
