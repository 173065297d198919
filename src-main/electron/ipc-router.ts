/**
 * The main side of the IPC bridge, generated from the one contract: every name in
 * ENGINE_API_METHODS (and DESKTOP_API_METHODS) is callable through one channel,
 * `kiln:invoke (method, args) → Envelope`. Errors never cross as exceptions: they become
 * `{ok:false, error:{name, code, message}}` and the renderer rebuilds an ApiError.
 *
 * Takes an `ipcMain`-like object so tests drive it without the Electron binary; only main.ts
 * passes the real ipcMain.
 */
import {
  ApiError, DESKTOP_API_METHODS, ENGINE_API_METHODS, IPC_INVOKE_CHANNEL, isApiErrorCode,
  type ApiErrorBody, type ApiErrorCode, type DesktopApi, type EngineApi, type Envelope,
} from '../../shared/api/engine-api.js';

export interface IpcInvokeEventLike {
  senderFrame?: { url: string } | null;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcInvokeEventLike, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

export interface IpcRouterOptions {
  engine: EngineApi;
  desktop?: DesktopApi;
  /** Rejects calls from frames that are not the app's own page (defence in depth). Default: allow. */
  isTrustedSender?: (url: string | undefined) => boolean;
  /** Unexpected (non-ApiError) failures, for the main process log. */
  onInternalError?: (method: string, err: unknown) => void;
}

type AnyMethod = (...args: unknown[]) => Promise<unknown>;

/** Any thrown value as the wire error: ApiErrors keep their code; anything else is INTERNAL. */
export function toErrorBody(err: unknown): ApiErrorBody {
  if (err instanceof ApiError) return err.toBody();
  if (err instanceof Error && err.name === 'ApiError' && isApiErrorCode((err as Error & { code: unknown }).code)) {
    return { name: 'ApiError', code: (err as Error & { code: ApiErrorCode }).code, message: err.message };
  }
  return { name: 'ApiError', code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

/**
 * Builds the dispatch table: method name → the object implementing it. Only contract names are
 * present, so nothing else on the engine (stop, db, config…) is reachable. The method is looked up
 * at call time, on its object, so `this` is right.
 */
export function buildDispatch(options: Pick<IpcRouterOptions, 'engine' | 'desktop'>): Map<string, AnyMethod> {
  const table = new Map<string, AnyMethod>();
  const add = (target: object, name: string): void => {
    table.set(name, (...args: unknown[]) => {
      const fn = (target as Record<string, unknown>)[name];
      if (typeof fn !== 'function') return Promise.reject(new ApiError('UNAVAILABLE', `${name} is not available in this engine`));
      return (fn as AnyMethod).apply(target, args);
    });
  };
  for (const name of ENGINE_API_METHODS) add(options.engine, name);
  if (options.desktop) for (const name of DESKTOP_API_METHODS) add(options.desktop, name);
  return table;
}

/** Handles one call: validation, dispatch, envelope. Exported for tests. */
export async function dispatchCall(table: Map<string, AnyMethod>, method: unknown, args: unknown, onInternalError?: (m: string, e: unknown) => void): Promise<Envelope<unknown>> {
  if (typeof method !== 'string' || !table.has(method)) {
    return { ok: false, error: { name: 'ApiError', code: 'BAD_REQUEST', message: `unknown engine method '${String(method)}'` } };
  }
  if (!Array.isArray(args)) {
    return { ok: false, error: { name: 'ApiError', code: 'BAD_REQUEST', message: `${method}: arguments must be an array` } };
  }
  try {
    const value = await table.get(method)!(...args);
    // Structured clone drops `undefined` anyway; make void explicit for the renderer.
    return { ok: true, value: value === undefined ? null : value };
  } catch (err) {
    const body = toErrorBody(err);
    if (body.code === 'INTERNAL') onInternalError?.(method, err);
    return { ok: false, error: body };
  }
}

/** Registers the one invoke channel; returns the function that removes it (window teardown, tests). */
export function registerIpcRouter(ipcMain: IpcMainLike, options: IpcRouterOptions): () => void {
  const table = buildDispatch(options);
  ipcMain.handle(IPC_INVOKE_CHANNEL, async (event, method, args) => {
    const url = event.senderFrame?.url;
    if (options.isTrustedSender && !options.isTrustedSender(url)) {
      return { ok: false, error: { name: 'ApiError', code: 'UNAUTHORIZED', message: 'this page may not call the Kiln engine' } } satisfies Envelope<never>;
    }
    return dispatchCall(table, method, args, options.onInternalError);
  });
  return () => ipcMain.removeHandler(IPC_INVOKE_CHANNEL);
}
