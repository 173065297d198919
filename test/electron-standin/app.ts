/**
 * `app`, as Electron documents it: `ready` once (whenReady resolves once, and never after an exit);
 * `quit()` emits `before-quit` (preventable), closes every window (a window that prevents `close`
 * cancels the quit), then `will-quit` (preventable) and `quit`; `exit()` ends at once without
 * those events; `window-all-closed` when the last window closes outside a quit (no listener:
 * quit); the single-instance lock is per userData directory, and a denied request tells the
 * holder through `second-instance`.
 */
/// <reference types="electron" />
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { electronEvent, machine, type LockHolder, type ShapeOf } from './state.js';

type AppShape = Pick<Electron.App,
  'whenReady' | 'isReady' | 'requestSingleInstanceLock' | 'hasSingleInstanceLock' | 'releaseSingleInstanceLock'
  | 'quit' | 'exit' | 'getPath' | 'setPath' | 'getAppPath' | 'getName' | 'focus'> & ShapeOf<Electron.App, 'on' | 'once'>;
type PathName = Parameters<Electron.App['getPath']>[0];

/** The windows the app closes on quit and exit (browser-window.ts registers itself). */
export interface ClosableWindow {
  /** As the user or app.quit closes it: `close` (preventable), then destroyed. Returns false when prevented. */
  tryClose(): boolean;
  destroy(): void;
  isDestroyed(): boolean;
}

export class StandinApp extends EventEmitter implements AppShape, LockHolder {
  private ready = false;
  private readonly readyPromise: Promise<void>;
  private resolveReady!: () => void;
  private state: 'running' | 'quitting' | 'exited' = 'running';
  private readonly paths = new Map<string, string>();
  private lockedDir: string | undefined;
  private resolveExit!: (code: number) => void;
  /** Resolves with the exit code when the process ends (quit or exit). */
  readonly exited: Promise<number>;
  exitCode: number | undefined;
  readonly windows = new Set<ClosableWindow>();
  /** Run when the process ends (trays disappear with it). */
  readonly onExit: Array<() => void> = [];

  constructor() {
    super();
    this.readyPromise = new Promise((resolve) => { this.resolveReady = resolve; });
    this.exited = new Promise((resolve) => { this.resolveExit = resolve; });
  }

  get alive(): boolean {
    return this.state !== 'exited';
  }

  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  isReady(): boolean {
    return this.ready;
  }

  /** Test control: the platform finished launching (Electron emits `ready` once, after main ran). */
  emitReady(): void {
    if (this.ready) throw new Error('electron stand-in: ready fires once per process');
    if (!this.alive) return;
    this.ready = true;
    this.emit('will-finish-launching');
    this.emit('ready', electronEvent(), {});
    this.resolveReady();
  }

  getName(): string {
    const pkg = join(this.getAppPath(), 'package.json');
    if (!existsSync(pkg)) return 'Electron';
    const { productName, name } = JSON.parse(readFileSync(pkg, 'utf8')) as { productName?: string; name?: string };
    return productName ?? name ?? 'Electron';
  }

  /** Where `electron .` was started: the directory with package.json (the test's working directory). */
  getAppPath(): string {
    return process.cwd();
  }

  getPath(name: PathName): string {
    const set = this.paths.get(name);
    if (set) return set;
    const base = join(tmpdir(), 'electron-standin');
    if (name === 'userData' || name === 'sessionData') return join(base, this.getName());
    if (name === 'temp') return tmpdir();
    return join(base, name);
  }

  setPath(name: string, path: string): void {
    this.paths.set(name, path);
  }

  requestSingleInstanceLock(additionalData: Record<string, unknown> = {}): boolean {
    const dir = this.getPath('userData');
    const holder = machine.locks.get(dir);
    if (holder && holder !== this && holder.alive) {
      // Electron tells the first instance asynchronously (over its socket).
      const argv = [...process.argv];
      const cwd = process.cwd();
      setImmediate(() => holder.secondInstance(argv, cwd, structuredClone(additionalData)));
      return false;
    }
    machine.locks.set(dir, this);
    this.lockedDir = dir;
    return true;
  }

  hasSingleInstanceLock(): boolean {
    return this.lockedDir !== undefined && machine.locks.get(this.lockedDir) === this;
  }

  releaseSingleInstanceLock(): void {
    if (this.hasSingleInstanceLock()) machine.locks.delete(this.lockedDir!);
    this.lockedDir = undefined;
  }

  secondInstance(argv: string[], workingDirectory: string, additionalData: unknown): void {
    if (this.alive) this.emit('second-instance', electronEvent(), argv, workingDirectory, additionalData);
  }

  focus(): void {
    // Bringing the app forward has no observable effect here.
  }

  quit(): void {
    if (this.state !== 'running') return;
    const before = electronEvent();
    this.emit('before-quit', before);
    if (before.defaultPrevented) return;
    this.state = 'quitting';
    for (const w of [...this.windows]) {
      if (!w.isDestroyed() && !w.tryClose()) {
        this.state = 'running';
        return;
      }
    }
    const will = electronEvent();
    this.emit('will-quit', will);
    if (will.defaultPrevented) {
      this.state = 'running';
      return;
    }
    this.emit('quit', electronEvent(), 0);
    this.end(0);
  }

  exit(exitCode = 0): void {
    if (!this.alive) return;
    this.state = 'exited'; // no before-quit, will-quit nor window close events from here
    for (const w of [...this.windows]) if (!w.isDestroyed()) w.destroy();
    this.end(exitCode);
  }

  get isQuitting(): boolean {
    return this.state !== 'running';
  }

  /** browser-window.ts: the last window closed. */
  lastWindowClosed(): void {
    if (this.state !== 'running') return;
    if (this.listenerCount('window-all-closed') === 0) this.quit();
    else this.emit('window-all-closed');
  }

  private end(code: number): void {
    this.state = 'exited';
    this.exitCode = code;
    this.releaseSingleInstanceLock();
    for (const f of this.onExit) f();
    this.resolveExit(code);
  }
}

export const app = new StandinApp();
