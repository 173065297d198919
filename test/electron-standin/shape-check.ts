/**
 * Compile-time only (tsc -p tsconfig.check.json): every name the stand-in exports is one the real
 * `electron` module exports, and main.ts's imports are all there. With the Pick<> types each piece
 * implements, a renamed or re-typed Electron API turns `npm run lint` red instead of a test green.
 */
/// <reference types="electron" />
import type * as Standin from './electron.js';

type Real = typeof Electron.CrossProcessExports;
type NotInElectron = Exclude<keyof typeof Standin, keyof Real>;
/** What main.ts imports from 'electron' (keep in step with its import line). */
type UsedByMain = 'app' | 'BrowserWindow' | 'Menu' | 'Notification' | 'Tray' | 'ipcMain' | 'nativeImage' | 'safeStorage' | 'session' | 'shell';
type MissingForMain = Exclude<UsedByMain, keyof typeof Standin>;

export const everyExportIsElectrons: [NotInElectron] extends [never] ? true : NotInElectron = true;
export const everyImportOfMainIsThere: [MissingForMain] extends [never] ? true : MissingForMain = true;
