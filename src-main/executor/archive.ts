/**
 * Tiny in-memory tar for the executor's own small files (directories it needs in the container,
 * large step scripts, reading back $KILN_ENV). Workspaces use `git archive` or the `tar` package,
 * streamed; this is only for a handful of small entries per job.
 */
import type { Readable } from 'node:stream';

export interface TarEntry {
  /** Relative path inside the archive; directories end with '/'. */
  name: string;
  mode: number;
  content?: Buffer;
  /** The owner the file gets in the container (Docker keeps it when extracting); default root (0). */
  uid?: number;
  gid?: number;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  const isDir = entry.name.endsWith('/');
  if (Buffer.byteLength(entry.name) > 100) throw new Error(`tar entry name too long: ${entry.name}`);
  h.write(entry.name, 0, 100, 'utf8');
  h.write(octal(entry.mode, 8), 100, 'ascii');
  h.write(octal(entry.uid ?? 0, 8), 108, 'ascii');
  h.write(octal(entry.gid ?? 0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(Math.floor(Date.now() / 1000), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(isDir ? '5' : '0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

/**
 * A tar archive holding `entries`. With `terminate: false` the end-of-archive blocks are left
 * out, so that another tar stream can follow (the workspace is one stream: Kiln's directories,
 * then the checkout).
 */
export function makeTar(entries: TarEntry[], terminate = true): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const content = e.name.endsWith('/') ? Buffer.alloc(0) : (e.content ?? Buffer.alloc(0));
    parts.push(header(e, content.length), content);
    const pad = (512 - (content.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  if (terminate) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** The content of the first regular file in a tar stream (the shape `getArchive` of one file has). */
export async function readFirstFile(stream: AsyncIterable<Buffer>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    chunks.push(b);
    total += b.length;
    if (total > maxBytes + 1024 * 1024) {
      (stream as Partial<Readable>).destroy?.();
      throw new Error(`file larger than ${maxBytes} bytes`);
    }
  }
  const tar = Buffer.concat(chunks);
  let pos = 0;
  while (pos + 512 <= tar.length) {
    const h = tar.subarray(pos, pos + 512);
    if (h.every((b) => b === 0)) break;
    const size = parseInt(h.subarray(124, 136).toString('ascii').replace(/\0.*$/, '').trim() || '0', 8);
    const type = String.fromCharCode(h[156] || 0x30);
    pos += 512;
    if (type === '0' || type === '\0') {
      if (size > maxBytes) throw new Error(`file larger than ${maxBytes} bytes`);
      return tar.subarray(pos, pos + size);
    }
    pos += Math.ceil(size / 512) * 512;
  }
  throw new Error('no file in archive');
}
