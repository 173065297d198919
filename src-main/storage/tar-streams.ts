/**
 * Builds a tar stream entry by entry from other streams (blobs on disk), without buffering any
 * whole file: header (plus a PAX header for long paths), the content, padding to 512 bytes, and the
 * two zero blocks at the end. node-tar's Pack only packs files by their own path on disk; we need
 * arbitrary names for content-addressed blobs, so we use its Header/Pax encoders directly.
 */
import { Readable } from 'node:stream';
import { Header, Parser, Pax, type ReadEntry } from 'tar';

export interface TarSource {
  /** Path inside the archive, relative, forward slashes. */
  path: string;
  size: number;
  mode?: number;
  mtime?: Date;
  open(): Promise<Readable>;
}

const BLOCK = 512;

function headerBlocks(path: string, size: number, mode: number, mtime: Date): Buffer[] {
  const header = new Header({ path, mode, size, mtime, type: 'File', uid: 0, gid: 0, uname: '', gname: '' });
  const out: Buffer[] = [];
  if (header.encode()) out.push(new Pax({ path, size, mtime }).encode());
  if (!header.block) throw new Error(`cannot encode a tar header for ${path}`);
  out.push(header.block);
  return out;
}

/** A tar stream of `sources`, read one after the other. Fails if a source's length differs from `size`. */
export function tarStream(sources: Iterable<TarSource>): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for (const src of sources) {
      yield* headerBlocks(src.path, src.size, src.mode ?? 0o644, src.mtime ?? new Date());
      let written = 0;
      const body = await src.open();
      for await (const chunk of body as AsyncIterable<Buffer>) {
        written += chunk.length;
        if (written > src.size) break;
        yield chunk;
      }
      if (written !== src.size) throw new Error(`${src.path}: expected ${src.size} bytes, read ${written}`);
      const pad = (BLOCK - (src.size % BLOCK)) % BLOCK;
      if (pad) yield Buffer.alloc(pad);
    }
    yield Buffer.alloc(BLOCK * 2);
  }
  return Readable.from(generate(), { objectMode: false });
}

/**
 * Feeds `archive` through node-tar's parser and calls `onEntry` for every entry, in order. The
 * handler must consume the entry (pipe it somewhere) or call entry.resume(); the parser waits for
 * it (backpressure), so memory stays bounded whatever the archive size. When a handler rejects,
 * reading stops, the current entry is destroyed, and the first error is rethrown after every
 * started handler has settled.
 */
export async function forEachTarEntry(archive: Readable, onEntry: (entry: ReadEntry) => Promise<void> | void): Promise<void> {
  const parser = new Parser();
  const pending: Promise<void>[] = [];
  let failure: unknown;
  let current: ReadEntry | undefined;
  parser.on('entry', (entry: ReadEntry) => {
    current = entry;
    if (failure !== undefined) {
      entry.resume();
      return;
    }
    const fail = (err: unknown): void => {
      failure ??= err;
      entry.resume();
    };
    try {
      pending.push(Promise.resolve(onEntry(entry)).catch(fail));
    } catch (err) {
      fail(err);
    }
  });
  const ended = new Promise<void>((resolve, reject) => {
    parser.on('end', () => resolve());
    parser.on('error', (err: Error) => reject(err));
  });
  ended.catch(() => undefined);
  try {
    for await (const chunk of archive as AsyncIterable<Buffer>) {
      if (failure !== undefined) break;
      if (!parser.write(chunk)) await waitDrain(parser, () => failure !== undefined);
    }
    if (failure === undefined) {
      parser.end();
      await ended;
    } else {
      archive.destroy();
      stopEntry(current);
    }
  } catch (err) {
    failure ??= err;
    stopEntry(current);
  }
  await Promise.all(pending);
  if (failure !== undefined) throw failure;
}

/** Ends an entry whose data will never arrive, so a handler piping it settles instead of hanging. */
function stopEntry(entry: ReadEntry | undefined): void {
  if (!entry || entry.emittedEnd) return;
  entry.on('error', () => undefined);
  entry.destroy(new Error('archive reading stopped'));
}

/** Waits for the parser's 'drain', or gives up when a handler has failed (it will never drain). */
function waitDrain(parser: Parser, failed: () => boolean): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (failed()) done();
    }, 50);
    function done(): void {
      clearInterval(timer);
      parser.off('drain', done);
      resolve();
    }
    parser.once('drain', done);
  });
}

/**
 * Whether a tar entry read back from a workspace is a regular file to collect. Links are never
 * followed: `onLink` says so (the caller names what was skipped); other kinds are skipped quietly.
 * A skipped entry is drained.
 */
export function isRegularFileEntry(entry: ReadEntry, onLink: (kind: 'symlink' | 'hard link') => void): boolean {
  if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
    onLink(entry.type === 'Link' ? 'hard link' : 'symlink');
    entry.resume();
    return false;
  }
  if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') {
    entry.resume();
    return false;
  }
  return true;
}
