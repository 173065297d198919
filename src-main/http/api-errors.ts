/**
 * How the /api routes answer errors: every error becomes `{ok:false, error:{name, code, message}}`
 * with the HTTP status of its code (HTTP_STATUS_OF), never a stack trace. Besides the engine's own
 * ApiErrors, it names what express and body-parser raise for a bad request: malformed JSON, JSON
 * that is not an object, a body too large, an unsupported encoding, a path that does not decode.
 */
import type { NextFunction, Request, Response } from 'express';
import { ApiError, HTTP_STATUS_OF } from '../../shared/api/engine-api.js';
import type { ApiErrorCode } from '../../shared/api/engine-api.js';
import { errorLine } from '../core/error-line.js';
import { isDiskFull } from '../core/disk-full.js';

export const JSON_BODY_LIMIT = '1mb';

/** Turns any error into the JSON envelope; never leaks a stack trace. */
export function apiErrorHandler(err: unknown, req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, code, message } = classify(err);
  // A bug of Kiln's own: one line for the log (the stack under KILN_DEBUG=1), the generic message for the client.
  if (status >= 500 && code === 'INTERNAL') process.stderr.write(`${errorLine(`kiln http: ${req.method} ${req.originalUrl.split('?')[0]} failed`, err)}\n`);
  res.status(status).json({ ok: false, error: { name: 'ApiError', code, message } });
  void next;
}

function classify(err: unknown): { status: number; code: ApiErrorCode; message: string } {
  if (err instanceof ApiError) return { status: HTTP_STATUS_OF[err.code], code: err.code, message: err.message };
  // A write that found no room (SQLite, a settings file, the vault): the engine is fine, the disk is not.
  if (isDiskFull(err)) return { status: 503, code: 'UNAVAILABLE', message: `disk full: the change was not saved (${(err as Error).message}); free space (Storage page) and try again` };
  // Errors rebuilt on the other side of IPC, or from another copy of the class, carry the code only.
  if (err instanceof Error && err.name === 'ApiError' && 'code' in err && typeof err.code === 'string' && err.code in HTTP_STATUS_OF) {
    const code = err.code as ApiErrorCode;
    return { status: HTTP_STATUS_OF[code], code, message: err.message };
  }
  const type = typeof err === 'object' && err !== null && 'type' in err ? String(err.type) : '';
  if (type === 'entity.parse.failed') {
    // Valid JSON that is not an object or array (`null`, `3`, `"x"`): express.json's strict mode
    // refuses it with a misleading "is not valid JSON"; say what the body must be instead.
    const scalar = jsonScalar(err);
    if (scalar !== undefined) return { status: 400, code: 'BAD_REQUEST', message: `the JSON body must be a JSON object; got ${scalar}` };
    return { status: 400, code: 'BAD_REQUEST', message: `malformed JSON body: ${(err as Error).message}` };
  }
  if (type === 'entity.too.large') return { status: 413, code: 'BAD_REQUEST', message: `request body too large (limit ${JSON_BODY_LIMIT})` };
  if (type.startsWith('encoding.') || type === 'charset.unsupported') return { status: 415, code: 'BAD_REQUEST', message: (err as Error).message };
  // Express decodes route parameters with decodeURIComponent, which throws for `%ff` or a lone `%`:
  // the client's mistake, so a 400 that names the bad part rather than a 500 with a stack trace.
  if (err instanceof URIError) {
    const part = /'(.*)'$/s.exec(err.message)?.[1];
    return { status: 400, code: 'BAD_REQUEST', message: `malformed percent-encoding in the request path${part === undefined ? '' : ` at '${part.slice(0, 100)}'`}: each % must start a %XX escape of a complete UTF-8 sequence` };
  }
  // Other client errors raised by express's own parts (http-errors with a 4xx status and a safe message).
  const status = typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number' ? err.status : 0;
  if (status >= 400 && status < 500 && err instanceof Error && 'expose' in err && err.expose === true) {
    return { status, code: status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', message: err.message.split('\n')[0] };
  }
  return { status: 500, code: 'INTERNAL', message: err instanceof Error ? err.message : 'internal error' };
}

/** The parse error's body when it is valid JSON after all (a scalar strict mode refused), shortened; else undefined. */
function jsonScalar(err: unknown): string | undefined {
  const body = typeof err === 'object' && err !== null && 'body' in err && typeof err.body === 'string' ? err.body.trim() : undefined;
  if (body === undefined) return undefined;
  try {
    JSON.parse(body);
  } catch {
    return undefined;
  }
  return body.length > 40 ? `${body.slice(0, 40)}…` : body;
}
