/**
 * The rest of what main.ts touches: `Tray`, `Menu`, `Notification`, `nativeImage`, `safeStorage`,
 * `session` (response headers, permissions) and `shell`. Each records what it was asked and says
 * "no" where Electron does: no Tray before ready; a disabled menu item cannot be clicked;
 * Notification.isSupported() and safeStorage may be unavailable (encryptString then throws, and on
 * Linux nothing is available before ready); createFromPath of a missing or non-PNG file is empty.
 */
/// <reference types="electron" />
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { app } from './app.js';
import { electronEvent, machine, platform, type ShapeOf } from './state.js';

export class StandinNativeImage implements Pick<Electron.NativeImage, 'isEmpty'> {
  constructor(readonly path: string, private readonly empty: boolean) {}
  isEmpty(): boolean {
    return this.empty;
  }
}

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export const nativeImage = {
  createFromPath(path: string): StandinNativeImage {
    const ok = existsSync(path) && readFileSync(path).subarray(0, 8).equals(PNG);
    return new StandinNativeImage(path, !ok);
  },
} satisfies Record<keyof Pick<typeof Electron.nativeImage, 'createFromPath'>, unknown>;

export class StandinMenuItem {
  readonly label: string;
  readonly type: NonNullable<Electron.MenuItemConstructorOptions['type']>;
  readonly enabled: boolean;
  constructor(private readonly options: Electron.MenuItemConstructorOptions) {
    this.label = options.label ?? '';
    this.type = options.type ?? 'normal';
    this.enabled = options.enabled ?? true;
  }

  /** User: picks the item. Electron never delivers a click to a disabled item or a separator. */
  click(): void {
    if (!this.enabled || this.type === 'separator') throw new Error(`electron stand-in: menu item '${this.label}' cannot be clicked`);
    this.options.click?.(this as unknown as Electron.MenuItem, undefined, electronEvent() as unknown as Electron.KeyboardEvent);
  }
}

export class StandinMenu {
  static buildFromTemplate(template: Array<Electron.MenuItemConstructorOptions | Electron.MenuItem>): StandinMenu {
    return new StandinMenu(template.map((t) => new StandinMenuItem(t as Electron.MenuItemConstructorOptions)));
  }
  constructor(readonly items: StandinMenuItem[]) {}
}
// The statics main.ts calls keep Electron's parameter types.
StandinMenu satisfies { buildFromTemplate(template: Parameters<typeof Electron.Menu.buildFromTemplate>[0]): unknown };

export const trays = new Set<StandinTray>();

export class StandinTray extends EventEmitter implements Pick<Electron.Tray, 'setToolTip' | 'setContextMenu' | 'destroy' | 'isDestroyed'>, ShapeOf<Electron.Tray, 'on'> {
  tooltip = '';
  menu: StandinMenu | null = null;
  readonly image: StandinNativeImage | string;
  private destroyed = false;

  constructor(image: Electron.NativeImage | string) {
    super();
    if (!app.isReady()) throw new Error('Cannot create Tray before app is ready');
    this.image = image as unknown as StandinNativeImage | string;
    trays.add(this);
  }

  setToolTip(toolTip: string): void {
    this.tooltip = toolTip;
  }

  setContextMenu(menu: Electron.Menu | null): void {
    this.menu = menu as unknown as StandinMenu | null;
  }

  destroy(): void {
    this.destroyed = true;
    trays.delete(this);
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  /** User: clicks the tray icon. */
  click(): void {
    this.emit('click', electronEvent(), { x: 0, y: 0, width: 16, height: 16 }, { x: 0, y: 0 });
  }
}
app.onExit.push(() => { for (const t of [...trays]) t.destroy(); });

export const notifications: StandinNotification[] = [];

export class StandinNotification extends EventEmitter implements Pick<Electron.Notification, 'show' | 'close' | 'title' | 'body'>, ShapeOf<Electron.Notification, 'on'> {
  static isSupported(): boolean {
    return platform.notificationsSupported;
  }

  title: string;
  body: string;
  shown = false;

  constructor(readonly options: Electron.NotificationConstructorOptions = {}) {
    super();
    this.title = options.title ?? '';
    this.body = options.body ?? '';
  }

  show(): void {
    this.shown = true;
    notifications.push(this);
    this.emit('show', electronEvent());
  }

  close(): void {
    this.emit('close', electronEvent());
  }

  /** User: clicks the notification. */
  click(): void {
    this.emit('click', electronEvent());
  }
}

function encryptionAvailable(): boolean {
  if (process.platform === 'linux' && !app.isReady()) return false;
  return platform.encryptionAvailable;
}

export const safeStorage = {
  isEncryptionAvailable: encryptionAvailable,
  getSelectedStorageBackend: () => (process.platform === 'linux' ? (app.isReady() ? platform.storageBackend : 'unknown') : 'unknown'),
  encryptString(plainText: string): Buffer {
    if (!encryptionAvailable()) throw new Error('Error while encrypting the text provided to safeStorage.encryptString. Encryption is not available.');
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', machine.keychainKey, iv);
    const body = Buffer.concat([c.update(plainText, 'utf8'), c.final()]);
    return Buffer.concat([Buffer.from('v11'), iv, c.getAuthTag(), body]);
  },
  decryptString(encrypted: Buffer): string {
    if (!encryptionAvailable()) throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString. Decryption is not available.');
    try {
      if (!encrypted.subarray(0, 3).equals(Buffer.from('v11'))) throw new Error('no prefix');
      const d = createDecipheriv('aes-256-gcm', machine.keychainKey, encrypted.subarray(3, 15));
      d.setAuthTag(encrypted.subarray(15, 31));
      return Buffer.concat([d.update(encrypted.subarray(31)), d.final()]).toString('utf8');
    } catch {
      throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
    }
  },
} satisfies Pick<Electron.SafeStorage, 'isEncryptionAvailable' | 'getSelectedStorageBackend' | 'encryptString' | 'decryptString'>;

type HeadersListener = (details: Electron.OnHeadersReceivedListenerDetails, callback: (response: Electron.HeadersReceivedResponse) => void) => void;
type PermissionHandler = Parameters<Electron.Session['setPermissionRequestHandler']>[0];

class StandinSession implements Pick<Electron.Session, 'setPermissionRequestHandler'> {
  headersListener: HeadersListener | null = null;
  permissionHandler: PermissionHandler = null;
  readonly webRequest = {
    onHeadersReceived: (filterOrListener: Electron.WebRequestFilter | HeadersListener | null, listener?: HeadersListener | null): void => {
      this.headersListener = typeof filterOrListener === 'function' || filterOrListener === null ? filterOrListener : (listener ?? null);
    },
  } satisfies Pick<Electron.WebRequest, 'onHeadersReceived'>;

  setPermissionRequestHandler(handler: PermissionHandler): void {
    this.permissionHandler = handler;
  }

  /** A response arriving for `url`: the headers after the session's listener (Electron's default: unchanged). */
  respond(url: string, responseHeaders: Record<string, string[]>): Promise<Record<string, string[]>> {
    const listener = this.headersListener;
    if (!listener) return Promise.resolve(responseHeaders);
    return new Promise((resolve) => {
      const details = { id: 1, url, method: 'GET', resourceType: 'mainFrame', referrer: '', timestamp: Date.now(), statusLine: 'HTTP/1.1 200 OK', statusCode: 200, responseHeaders } as unknown as Electron.OnHeadersReceivedListenerDetails;
      listener(details, (response) => {
        if (response.cancel) resolve({});
        else resolve((response.responseHeaders as Record<string, string[]> | undefined) ?? responseHeaders);
      });
    });
  }

  /** A page asking for `permission`: granted or not (Electron's default without a handler: granted). */
  requestPermission(permission: string): Promise<boolean> {
    const handler = this.permissionHandler;
    if (!handler) return Promise.resolve(true);
    return new Promise((resolve) => handler(undefined as unknown as Electron.WebContents, permission as never, resolve, {} as never));
  }
}

export const session = { defaultSession: new StandinSession() };

export const shell = {
  opened: [] as string[],
  async openExternal(url: string): Promise<void> {
    shell.opened.push(url);
  },
} satisfies Pick<Electron.Shell, 'openExternal'> & { opened: string[] };
