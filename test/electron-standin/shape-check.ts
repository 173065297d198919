/**
 * Compile-time only (tsc -p tsconfig.check.json, part of `npm run lint`): every name the stand-in
 * exports is one the real `electron` module exports. With the Pick<> / ShapeOf<> types each piece
 * implements, a renamed or re-typed Electron API turns the lint red instead of a test green.
 * (That main.ts's imports all exist in the stand-in is checked at run time, from main.ts's own
 * import line, in test/app/electron-standin.test.ts.)
 */
/// <reference types="electron" />
import type * as Standin from './electron.js';

type Real = typeof Electron.CrossProcessExports;
type NotInElectron = Exclude<keyof typeof Standin, keyof Real>;

export const everyExportIsElectrons: [NotInElectron] extends [never] ? true : NotInElectron = true;
