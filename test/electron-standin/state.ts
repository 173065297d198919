/**
 * The stand-in's state. Per "process" (one evaluation of the stand-in's modules; a test launches a
 * new process with vi.resetModules() and a fresh import of main.ts): the windows, trays,
 * notifications, IPC handlers and session hooks. Per machine (shared by every process of the test
 * run, as the OS shares them): the single-instance locks and the OS key store.
 */
/// <reference types="electron" />
import { randomBytes } from 'node:crypto';

/** An Electron event object: preventDefault() and defaultPrevented, plus the event's own fields. */
export function electronEvent<P extends object = object>(params?: P): Electron.Event<P> {
  let prevented = false;
  const event = { preventDefault() { prevented = true; }, get defaultPrevented() { return prevented; } };
  return Object.assign(event, params) as Electron.Event<P>;
}

/**
 * Pick<T, K> where a method returning T itself (chaining: `on(...): this`) may return anything: the
 * stand-in's own object chains instead of a full Electron one. Parameters stay Electron's.
 */
export type ShapeOf<T, K extends keyof T> = {
  [P in K]: T[P] extends (...args: infer A) => infer R ? (...args: A) => (R extends T ? unknown : R) : T[P];
};

/** What a process's app must offer the machine-wide single-instance lock. */
export interface LockHolder {
  readonly alive: boolean;
  secondInstance(argv: string[], workingDirectory: string, additionalData: unknown): void;
}

interface Machine {
  /** userData directory → the process holding its lock (Electron's ProcessSingleton is per userData). */
  locks: Map<string, LockHolder>;
  /** The OS key store's key for safeStorage, the same for every process of this user. */
  keychainKey: Buffer;
}

const MACHINE = Symbol.for('kiln.electron-standin.machine');
const g = globalThis as typeof globalThis & { [MACHINE]?: Machine };
export const machine: Machine = (g[MACHINE] ??= { locks: new Map(), keychainKey: randomBytes(32) });

/** What the test may change about the platform before (or while) a process runs. */
export const platform = {
  /** safeStorage.isEncryptionAvailable() (after ready, on Linux). */
  encryptionAvailable: true,
  /** safeStorage.getSelectedStorageBackend() on Linux. */
  storageBackend: 'gnome_libsecret' as ReturnType<Electron.SafeStorage['getSelectedStorageBackend']>,
  /** Notification.isSupported(). */
  notificationsSupported: true,
};
