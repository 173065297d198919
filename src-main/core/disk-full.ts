/**
 * One rule for "this failed because a disk is full", whoever reports it: Node's fs (ENOSPC, EDQUOT),
 * SQLite (SQLITE_FULL; SQLITE_IOERR_SHMSIZE when even the WAL index cannot be allocated), git
 * ("No space left on device" on stderr) and the Docker engine (the same words in its JSON errors).
 * Callers turn such a failure into a clear reason ("disk full: …") and tell the disk guard, instead
 * of letting it escape as an uncaught error.
 */

const FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', 'SQLITE_IOERR_SHMSIZE']);
const FULL_WORDS = /no space left on device|disk quota exceeded|database or disk is full|not enough space on the disk/i;

/** True when `err` (or its cause) says a disk or quota ran out. */
export function isDiskFull(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 4; depth++) {
    if (typeof e === 'string') return FULL_WORDS.test(e);
    if (typeof e !== 'object') return false;
    const o = e as { code?: unknown; message?: unknown; json?: { message?: unknown }; cause?: unknown };
    if (typeof o.code === 'string' && FULL_CODES.has(o.code)) return true;
    if (typeof o.message === 'string' && FULL_WORDS.test(o.message)) return true;
    if (typeof o.json?.message === 'string' && FULL_WORDS.test(o.json.message)) return true;
    e = o.cause;
  }
  return false;
}

/** How a job error caused by the Docker engine's own full storage begins (the disk guard looks for it). */
export const DOCKER_STORAGE_FULL = "the Docker engine's storage is full";

/**
 * Below this much free, the Docker engine's storage counts as full: a step's "No space left on
 * device" is then the engine's, and the guard holds jobs back until a measurement shows more.
 * Any more than this and the step filled a disk of its own (its /dev/shm, a tmpfs, a volume).
 */
export const DOCKER_STORAGE_ROOM_BYTES = 64 * 1024 ** 2;

/** An error whose message is the sentence a person reads ("disk full: the cache was not saved"). */
export class DiskFullError extends Error {
  readonly code = 'ENOSPC';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DiskFullError';
  }
}
