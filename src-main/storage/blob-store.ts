/**
 * Content-addressed files: `<root>/<aa>/<sha256>`. Artifacts are stored here, so two jobs uploading
 * the same file share one blob, and a blob's name proves its content.
 *
 * Writes go to `<root>/tmp/<random>` while hashing, then are renamed into place (atomic on one file
 * system), so a reader never sees a half-written blob. Garbage collection deletes a blob only when
 * no artifact row references it AND no writer has pinned it: the pin covers the window between the
 * rename and the INSERT of the row. The check and the unlink run in one synchronous turn of the
 * event loop, so a writer in the same process cannot slip between them. Readers open the file
 * descriptor before streaming, so a blob unlinked mid-download still finishes.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const SHA256 = /^[0-9a-f]{64}$/;

export interface BlobWriteResult {
  sha256: string;
  size: number;
}

/** Thrown by write() when the stream is longer than `maxBytes`; the partial blob is removed. */
export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`more than ${limit} bytes`);
    this.name = 'BlobTooLargeError';
  }
}

export class BlobStore {
  private readonly tmpDir: string;
  private readonly pins = new Map<string, number>();
  private readonly writing = new Set<string>();

  constructor(readonly root: string) {
    this.tmpDir = join(root, 'tmp');
    mkdirSync(this.tmpDir, { recursive: true });
  }

  path(sha256: string): string {
    if (!SHA256.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return join(this.root, sha256.slice(0, 2), sha256);
  }

  /**
   * Streams `source` into a blob. The result is pinned: call unpin(sha256) once a row references
   * it (or once the caller gives up), so GC cannot remove it in between.
   */
  async write(source: Readable | AsyncIterable<Buffer>, options: { maxBytes?: number } = {}): Promise<BlobWriteResult> {
    const name = randomUUID();
    const tmp = join(this.tmpDir, name);
    this.writing.add(name);
    const hash = createHash('sha256');
    let size = 0;
    const max = options.maxBytes ?? Number.POSITIVE_INFINITY;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > max) {
          done(new BlobTooLargeError(max));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(tmp));
      const sha256 = hash.digest('hex');
      const final = this.path(sha256);
      mkdirSync(join(this.root, sha256.slice(0, 2)), { recursive: true });
      this.pin(sha256);
      await rename(tmp, final);
      return { sha256, size };
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    } finally {
      this.writing.delete(name);
    }
  }

  /** Opens the blob (the fd is held, so a concurrent delete cannot cut the stream short). */
  async open(sha256: string): Promise<{ stream: Readable; size: number } | undefined> {
    let handle;
    try {
      handle = await open(this.path(sha256), 'r');
    } catch {
      return undefined;
    }
    try {
      const { size } = await handle.stat();
      return { stream: handle.createReadStream(), size };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  async size(sha256: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(sha256))).size;
    } catch {
      return undefined;
    }
  }

  pin(sha256: string): void {
    this.pins.set(sha256, (this.pins.get(sha256) ?? 0) + 1);
  }

  unpin(sha256: string): void {
    const n = (this.pins.get(sha256) ?? 0) - 1;
    if (n > 0) this.pins.set(sha256, n);
    else this.pins.delete(sha256);
  }

  /** Deletes one blob's file unless a reader or writer holds it pinned; false when kept or absent. */
  removeUnpinned(sha256: string): boolean {
    if (this.pins.has(sha256)) return false;
    try {
      rmSync(this.path(sha256));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Removes every blob for which `isReferenced` is false and that is not pinned, plus temp files no
   * writer owns (left by a crash). `isReferenced` must be synchronous (a SQLite lookup).
   * Returns the number of blobs and bytes removed.
   */
  sweep(isReferenced: (sha256: string) => boolean): { blobs: number; bytes: number } {
    let blobs = 0;
    let bytes = 0;
    for (const dir of safeReaddir(this.root)) {
      if (dir === 'tmp') {
        for (const f of safeReaddir(this.tmpDir)) {
          if (!this.writing.has(f)) rmSync(join(this.tmpDir, f), { force: true });
        }
        continue;
      }
      if (!/^[0-9a-f]{2}$/.test(dir)) continue;
      for (const f of safeReaddir(join(this.root, dir))) {
        if (!SHA256.test(f) || this.pins.has(f) || isReferenced(f)) continue;
        const file = join(this.root, dir, f);
        try {
          bytes += statSync(file).size;
          unlinkSync(file);
          blobs++;
        } catch {
          // already gone
        }
      }
    }
    return { blobs, bytes };
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
