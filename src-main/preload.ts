/**
 * The preload: exposes one small, typed object as `window.kiln` (see shared KilnBridge). It runs
 * sandboxed, so it is bundled to CommonJS (src-main/electron/preload.vite.config.ts) with
 * bridge-api.ts inlined; electron stays external.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { buildBridge } from './electron/bridge-api.js';

contextBridge.exposeInMainWorld('kiln', buildBridge(ipcRenderer));
