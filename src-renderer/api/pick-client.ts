import type { KilnBridge } from '../../shared/api/engine-api.js';
import { HttpClient } from './http-client.js';
import { IpcClient } from './ipc-client.js';
import type { KilnClient } from './kiln-client.js';

declare global {
  interface Window { kiln?: KilnBridge }
}

/** Electron's preload exposes `window.kiln`; a browser served by `kiln serve` has none and speaks HTTP. */
export async function pickClient(): Promise<KilnClient> {
  if (window.kiln) {
    const client = new IpcClient(window.kiln);
    await client.init();
    return client;
  }
  return new HttpClient('');
}
