/**
 * Job logs as append-only files under <dataDir>/logs/:
 *   <jobId>.log  one JSON record per line: {"t":ts,"s":"o|e|y","p":step|null,"x":text}; seq = line number from 0
 *   <jobId>.idx  the byte offset of every INDEX_EVERY-th line, one decimal per line (a sparse index)
 *
 * Why files and not SQLite rows: a 1,000,000-line log is ~100 MB; as rows it would bloat the one
 * database every query shares and every WAL checkpoint. A file plus a sparse index answers
 * getLog(offset, limit) with one seek and a read of at most INDEX_EVERY + limit lines.
 *
 * Writes are batched in memory and written (no fsync) every `flushMs` or when the batch is large;
 * reads flush first, so a reader always sees every appended line. After a crash the index is
 * checked against the file and the tail rebuilt; a torn last record is cut off on reopen.
 * Lines arrive already masked by the executor, and unnumbered: this store is the one place a line
 * gets its seq (its line number in the file), so every writer of a job's log shares one numbering.
 *
 * A write that fails (a full disk, mostly) never escapes from the flush timer: the batch is undone
 * (the file is cut back to its last complete record), the log is marked cut at that size, later
 * appends to it are dropped, and `onCut` tells the engine, which fails the job with that reason.
 * Everything written before stays readable.
 */
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { open, readdir, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogEntry, LogLine, LogStream } from '../../shared/model/run.js';
import { isDiskFull } from '../core/disk-full.js';
import { searchLogFile, type LogSearchMatch } from './log-search.js';

export type { LogSearchMatch } from './log-search.js';

export const INDEX_EVERY = 1024;
const READ_CHUNK = 256 * 1024;
const FLUSH_BYTES = 256 * 1024;
const MAX_CACHED = 1000;
const STREAM_CODE: Record<LogStream, string> = { stdout: 'o', stderr: 'e', system: 'y' };
const CODE_STREAM: Record<string, LogStream> = { o: 'stdout', e: 'stderr', y: 'system' };

interface Record_ { t: number; s: string; p: number | null; x: string }

interface LogMeta {
  /** Byte offset of line k * INDEX_EVERY. index[0] = 0. */
  index: number[];
  /** Lines on disk. */
  lines: number;
  /** Bytes on disk. */
  bytes: number;
  /** Present while the log is open for appending. */
  writer?: Writer;
  /** Set once a write failed: the log ends here and later appends are dropped. */
  cut?: LogCut;
}

/** Where and why a log was cut. */
export interface LogCut {
  /** Bytes and lines kept. */
  bytes: number;
  lines: number;
  /** The step whose lines could not be written (null: job-level lines). */
  step: number | null;
  diskFull: boolean;
  message: string;
}

interface Writer {
  /** Set once the asynchronous open finished. */
  handle?: FileHandle;
  opened: Promise<void>;
  error?: Error;
  /** Encoded records not written yet. */
  pending: string[];
  pendingBytes: number;
  pendingLines: number;
  closing: boolean;
}

const SAFE_ID = /^[A-Za-z0-9._-]+$/;

function decode(raw: string, seq: number): LogLine {
  const r = JSON.parse(raw) as Record_;
  return { seq, ts: r.t, stream: CODE_STREAM[r.s] ?? 'stdout', step: r.p, text: r.x };
}

export class LogStore {
  private readonly metas = new Map<string, LogMeta>();
  private timer: NodeJS.Timeout | undefined;
  private readonly pendingCloses = new Set<Promise<void>>();

  constructor(
    readonly dir: string,
    private readonly flushMs = 100,
    /** Called once per log when a write to it fails (see the header); must not throw. */
    private readonly onCut?: (jobId: string, cut: LogCut) => void,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  private paths(jobId: string): { log: string; idx: string } {
    if (!SAFE_ID.test(jobId)) throw new Error(`invalid job id '${jobId}'`);
    return { log: join(this.dir, `${jobId}.log`), idx: join(this.dir, `${jobId}.idx`) };
  }

  /** Loads (or rebuilds) a log's index and counts its lines; a torn final record is ignored. */
  private meta(jobId: string): LogMeta {
    let m = this.metas.get(jobId);
    if (m) return m;
    const { log, idx } = this.paths(jobId);
    const size = existsSync(log) ? statSync(log).size : 0;
    let index = [0];
    if (existsSync(idx) && size > 0) {
      const entries = readFileSync(idx, 'utf8').split('\n');
      entries.pop(); // the part after the last newline is unterminated: a torn write
      const saved = entries.map(Number);
      // Trust only a prefix that is increasing, inside the file and pointing just after a newline.
      let ok = saved[0] === 0 ? 1 : 0;
      while (ok < saved.length && saved[ok] > saved[ok - 1] && saved[ok] <= size) ok++;
      const fd = openSync(log, 'r');
      try {
        const one = Buffer.alloc(1);
        while (ok > 1 && (readSync(fd, one, 0, 1, saved[ok - 1] - 1) !== 1 || one[0] !== 10)) ok--;
      } finally {
        closeSync(fd);
      }
      if (ok > 0) index = saved.slice(0, ok);
    }
    // Scan from the last checkpoint to count the tail lines (and extend the index).
    let lines = (index.length - 1) * INDEX_EVERY;
    let pos = index[index.length - 1];
    let complete = pos; // end of the last complete record
    if (size > pos) {
      const fd = openSync(log, 'r');
      try {
        const buf = Buffer.allocUnsafe(READ_CHUNK);
        while (pos < size) {
          const n = readSync(fd, buf, 0, Math.min(READ_CHUNK, size - pos), pos);
          if (n <= 0) break;
          const chunk = buf.subarray(0, n);
          // indexOf is memchr: a lost index of a 100 MB log is rebuilt in tens of ms, not hundreds.
          for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) {
            lines++;
            complete = pos + i + 1;
            if (lines % INDEX_EVERY === 0) index.push(complete);
          }
          pos += n;
        }
      } finally {
        closeSync(fd);
      }
    }
    m = { index, lines, bytes: complete };
    this.metas.set(jobId, m);
    if (this.metas.size > MAX_CACHED) {
      // Forget the oldest closed logs' indexes; they are reloaded from their .idx files on demand.
      for (const [id, old] of this.metas) {
        if (this.metas.size <= MAX_CACHED / 2) break;
        if (!old.writer && id !== jobId) this.metas.delete(id);
      }
    }
    return m;
  }

  private openWriter(jobId: string): Writer {
    const m = this.meta(jobId);
    if (m.writer) {
      m.writer.closing = false; // a retry appending again before the last close finished
      return m.writer;
    }
    const w: Writer = { pending: [], pendingBytes: 0, pendingLines: 0, closing: false, opened: Promise.resolve() };
    m.writer = w;
    m.cut = undefined; // a later attempt writes again
    // Creating a file can take milliseconds on a busy disk: open asynchronously, buffer meanwhile.
    w.opened = (async () => {
      try {
        const handle = await open(this.paths(jobId).log, 'a+');
        try {
          if ((await handle.stat()).size > m.bytes) await handle.truncate(m.bytes); // cut a torn record
        } catch (err) {
          await handle.close().catch(() => undefined);
          throw err;
        }
        w.handle = handle;
        this.flush(jobId);
      } catch (err) {
        w.error = err instanceof Error ? err : new Error(String(err));
        this.cutAt(jobId, m, w, err);
      }
      if (w.closing) await this.finish(jobId, w);
    })();
    return w;
  }

  /** The next seq of a job's log (lines written so far, flushed or not). */
  count(jobId: string): number {
    const m = this.meta(jobId);
    return m.lines + (m.writer?.pendingLines ?? 0);
  }

  /** Appends one line and returns it with its seq (the store assigns seqs: no gaps, no duplicates). */
  append(jobId: string, line: LogEntry): LogLine {
    const w = this.openWriter(jobId);
    const seq = this.count(jobId);
    if (this.metas.get(jobId)?.cut) return { seq, ts: line.ts, stream: line.stream, step: line.step, text: line.text };
    const rec = `${JSON.stringify({ t: line.ts, s: STREAM_CODE[line.stream], p: line.step, x: line.text })}\n`;
    w.pending.push(rec);
    w.pendingBytes += Buffer.byteLength(rec);
    w.pendingLines++;
    if (w.pendingBytes >= FLUSH_BYTES) this.flush(jobId);
    else this.timer ??= setTimeout(() => { this.timer = undefined; this.flushAll(); }, this.flushMs);
    return { seq, ts: line.ts, stream: line.stream, step: line.step, text: line.text };
  }

  /** Writes a job's pending lines to its file (one write to the page cache, no fsync) and extends the index. */
  flush(jobId: string): void {
    const m = this.metas.get(jobId);
    const w = m?.writer;
    if (!m || !w?.handle || w.pending.length === 0) return;
    const buf = Buffer.from(w.pending.join(''));
    try {
      // A short write is not an error: a nearly full disk takes part of the batch, and the next
      // write of the rest fails with ENOSPC.
      for (let done = 0; done < buf.length;) done += writeSync(w.handle.fd, buf, done, buf.length - done);
    } catch (err) {
      this.cutAt(jobId, m, w, err);
      return;
    }
    let pos = m.bytes;
    let lines = m.lines;
    for (const rec of w.pending) {
      pos += Buffer.byteLength(rec);
      lines++;
      if (lines % INDEX_EVERY === 0) m.index.push(pos);
    }
    m.bytes = pos;
    m.lines = lines;
    w.pending = [];
    w.pendingBytes = 0;
    w.pendingLines = 0;
  }

  /** The cut of a job's log, when a write to it failed. */
  cut(jobId: string): LogCut | undefined {
    return this.metas.get(jobId)?.cut;
  }

  /** Undoes a failed batch (the file ends at its last complete record again) and marks the log cut. */
  private cutAt(jobId: string, m: LogMeta, w: Writer, err: unknown): void {
    if (w.handle) {
      try {
        ftruncateSync(w.handle.fd, m.bytes);
      } catch {
        // Shrinking needs no space; should it fail anyway, reopening cuts the torn record (meta()).
      }
    }
    const step = w.pending.length > 0 ? (JSON.parse(w.pending[0]) as Record_).p : null;
    w.pending = [];
    w.pendingBytes = 0;
    w.pendingLines = 0;
    if (m.cut) return;
    m.cut = { bytes: m.bytes, lines: m.lines, step, diskFull: isDiskFull(err), message: err instanceof Error ? err.message : String(err) };
    try {
      this.onCut?.(jobId, m.cut);
    } catch {
      // a reporter that throws must not turn a cut log into a crash
    }
  }

  flushAll(): void {
    for (const id of this.metas.keys()) this.flush(id);
  }

  /** Writes the rest, closes the file and saves the sparse index next to it. */
  private async finish(jobId: string, w: Writer): Promise<void> {
    const m = this.metas.get(jobId);
    if (!m || m.writer !== w || !w.closing) return;
    this.flush(jobId);
    m.writer = undefined;
    try {
      await w.handle?.close();
      await writeFile(this.paths(jobId).idx, m.index.map((n) => `${n}\n`).join(''));
    } catch {
      // the index is an optimisation: without it the log is scanned once on next use
    }
  }

  /**
   * Ends appending for a finished job and returns its final size. The file is closed (and its index
   * saved) asynchronously; `closed()` waits for it. Appending again later (a retry) reopens it.
   */
  close(jobId: string): { lines: number; bytes: number } {
    const m = this.metas.get(jobId);
    if (!m) return { lines: 0, bytes: 0 };
    const w = m.writer;
    const counts = { lines: m.lines + (w?.pendingLines ?? 0), bytes: m.bytes + (w?.pendingBytes ?? 0) };
    if (w && !w.closing) {
      w.closing = true;
      if (w.handle || w.error) this.pendingCloses.add(this.finish(jobId, w));
      else this.pendingCloses.add(w.opened);
    }
    return counts;
  }

  /** Flushes and closes every open log; resolves when all files are closed. */
  async closeAll(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const id of [...this.metas.keys()]) this.close(id);
    const all = [...this.pendingCloses];
    this.pendingCloses.clear();
    await Promise.all(all);
    for (const m of this.metas.values()) if (m.writer) await m.writer.opened;
    this.metas.clear();
  }

  /** Lines [offset, offset+limit) of a job's log. Unknown jobs have an empty log. */
  async read(jobId: string, offset: number, limit: number): Promise<LogLine[]> {
    const m = await this.flushed(jobId);
    const start = Math.max(0, Math.floor(offset));
    if (start >= m.lines || limit <= 0) return [];
    return this.readFile(jobId, m, start, Math.min(limit, m.lines - start));
  }

  /** The log's metadata once every line appended so far is in the file (waits for a pending open). */
  private async flushed(jobId: string): Promise<LogMeta> {
    const w = this.meta(jobId).writer;
    if (w) await w.opened;
    this.flush(jobId);
    return this.meta(jobId);
  }

  private async readFile(jobId: string, m: LogMeta, start: number, want: number): Promise<LogLine[]> {
    const checkpoint = Math.min(Math.floor(start / INDEX_EVERY), m.index.length - 1);
    let pos = m.index[checkpoint];
    let seq = checkpoint * INDEX_EVERY;
    const end = m.bytes;
    const out: LogLine[] = [];
    const handle = await open(this.paths(jobId).log, 'r');
    try {
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      let carry: Buffer = Buffer.alloc(0);
      while (out.length < want && pos < end) {
        const { bytesRead: n } = await handle.read(buf, 0, Math.min(READ_CHUNK, end - pos), pos);
        if (n <= 0) break;
        pos += n;
        // Work on bytes: a chunk may end inside a multi-byte character. Lines before `start` are skipped undecoded.
        const chunk = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
        let from = 0;
        for (;;) {
          const nl = chunk.indexOf(10, from);
          if (nl < 0) break;
          if (seq >= start) out.push(decode(chunk.toString('utf8', from, nl), seq));
          seq++;
          from = nl + 1;
          if (out.length >= want) break;
        }
        carry = Buffer.from(chunk.subarray(from));
      }
    } finally {
      await handle.close();
    }
    return out;
  }

  /**
   * Lines whose text contains `query`, case-insensitively (`text.toLowerCase().includes(query.toLowerCase())`),
   * first `limit` in seq order. Scans the raw file in chunks and parses only lines with a hit (log-search.ts).
   */
  async search(jobId: string, query: string, limit: number): Promise<LogSearchMatch[]> {
    const m = await this.flushed(jobId);
    if (m.bytes === 0 || !query) return [];
    return searchLogFile({ file: this.paths(jobId).log, index: m.index, every: INDEX_EVERY, bytes: m.bytes }, query, limit);
  }

  /**
   * Deletes a finished job's log (and index) to free space; false when it is being written now.
   * Reads of it answer an empty log afterwards.
   */
  async remove(jobId: string): Promise<boolean> {
    if (this.metas.get(jobId)?.writer) return false;
    const { log, idx } = this.paths(jobId);
    this.metas.delete(jobId);
    let removed = false;
    for (const f of [log, idx]) {
      try {
        await unlink(f);
        removed ||= f === log;
      } catch {
        // never written, or removed already
      }
    }
    return removed;
  }

  /** Bytes of every log file on disk (plus unflushed lines). Async: never stalls the event loop on many files. */
  async totalBytes(): Promise<number> {
    let total = 0;
    for (const f of await readdir(this.dir)) {
      try {
        total += (await stat(join(this.dir, f))).size;
      } catch {
        // removed meanwhile
      }
    }
    for (const m of this.metas.values()) total += m.writer?.pendingBytes ?? 0;
    return total;
  }
}
