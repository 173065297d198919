/**
 * The object the preload exposes as `window.kiln`, built from an `ipcRenderer`-like object so it can
 * be imported (and tested) without Electron. It is deliberately tiny and generic: one `invoke` for
 * every API method and one event feed — no hand-written line per channel (the Podman Desktop
 * preload grew to ~80k characters that way).
 */
import {
  DESKTOP_API_METHODS, ENGINE_API_METHODS, IPC_EVENT_CHANNEL, IPC_INVOKE_CHANNEL,
  type EngineEvent, type Envelope, type KilnBridge,
} from '../../shared/api/engine-api.js';

export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

const CALLABLE: ReadonlySet<string> = new Set<string>([...ENGINE_API_METHODS, ...DESKTOP_API_METHODS]);

export function buildBridge(ipc: IpcRendererLike): KilnBridge {
  return Object.freeze({
    async invoke(method: string, args: unknown[]): Promise<Envelope<unknown>> {
      // Checked here too, so a typo fails fast with a clear message instead of a round trip.
      if (typeof method !== 'string' || !CALLABLE.has(method)) {
        return { ok: false, error: { name: 'ApiError', code: 'BAD_REQUEST', message: `unknown engine method '${String(method)}'` } };
      }
      // Only plain data crosses: arguments are cloned by Electron (structured clone).
      return (await ipc.invoke(IPC_INVOKE_CHANNEL, method, Array.isArray(args) ? args : [])) as Envelope<unknown>;
    },
    onEvent(listener: (event: EngineEvent) => void): () => void {
      // Never hand the renderer Electron's event object (it carries `sender`): the payload only.
      const wrapped = (_event: unknown, payload: unknown): void => listener(payload as EngineEvent);
      ipc.on(IPC_EVENT_CHANNEL, wrapped);
      return () => { ipc.removeListener(IPC_EVENT_CHANNEL, wrapped); };
    },
  });
}
