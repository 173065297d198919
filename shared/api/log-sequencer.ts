/**
 * The one place that turns a job's log lines, however they arrive, into one ordered stream without
 * gaps or duplicates. The SSE route (main side) and both renderer transports (IPC and HTTP) use it,
 * so "no gap, no duplicate" is written once.
 *
 * Lines may come duplicated (a reconnect replays what was sent), out of order, or with a hole (events
 * dropped, or published while a page was being read). The sequencer keeps every line at or after
 * `nextSeq` by its seq, emits the consecutive run starting at `nextSeq`, and fills a hole through
 * `fetchRange` (the paged log API) before anything behind it is emitted. `readPages` reads the paged
 * API through the same path, so a page racing live lines doubles nothing.
 *
 * Contract: `emit` is called synchronously from `push` (or after a fill), never after `close()`.
 * After `fillAttempts` failed reads of a hole, `onError` gets the last error and the stream carries on
 * from the lines it has: a log viewer must not stall forever on one unreadable range.
 */
import type { LogLine } from '../model/run.js';
import type { LogChunk } from './engine-api.js';

export interface LogSequencerOptions {
  /** The seq of the first line to emit. */
  from: number;
  /** Lines [from, from + count) of the log; may return fewer (a page limit) or more. */
  fetchRange(from: number, count: number): Promise<LogLine[]>;
  /** Consecutive lines, in order; each line once. */
  emit(lines: LogLine[]): void;
  /** A hole could not be read after every attempt (default: ignored). */
  onError?(err: unknown): void;
  /** Reads of one hole before giving up on it. Default 5, waiting 200 ms × attempt in between. */
  fillAttempts?: number;
}

const FILL_ATTEMPTS = 5;
const FILL_BACKOFF_MS = 200;

export class LogSequencer {
  private next: number;
  private readonly pending = new Map<number, LogLine>();
  private filling = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly o: LogSequencerOptions) {
    this.next = o.from;
  }

  /** The seq of the next line to emit: where a reconnect or the next page read must resume. */
  get nextSeq(): number {
    return this.next;
  }

  /** Lines in any order, duplicates allowed; those before `nextSeq` are dropped. */
  push(lines: readonly LogLine[]): void {
    if (this.closed) return;
    for (const line of lines) if (line.seq >= this.next) this.pending.set(line.seq, line);
    this.drain();
  }

  /** Stops for good: nothing is emitted afterwards, a fill in flight is discarded, waiters resolve. */
  close(): void {
    this.closed = true;
    this.pending.clear();
    this.resolveIdle();
  }

  /** Resolves once no hole is being filled and nothing is waiting behind one (at once when closed). */
  whenIdle(): Promise<void> {
    if (this.closed || (!this.filling && this.pending.size === 0)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Reads the paged log from `nextSeq` until it says `complete` or brings nothing new, passing every
   * page through the sequencer. Returns the last page (undefined when closed first). Rejects with the
   * paged API's error.
   */
  async readPages(getLog: (offset: number) => Promise<LogChunk>): Promise<LogChunk | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const before = this.next;
      const chunk = await getLog(before);
      this.push(chunk.lines);
      await this.whenIdle();
      if (this.closed) return undefined;
      if (chunk.complete || this.next === before) return chunk;
    }
  }

  private drain(): void {
    const out: LogLine[] = [];
    for (let line = this.pending.get(this.next); line; line = this.pending.get(this.next)) {
      out.push(line);
      this.pending.delete(this.next);
      this.next++;
    }
    if (out.length > 0) this.o.emit(out);
    if (this.closed) return;
    if (this.pending.size > 0 && !this.filling) void this.fillHole();
    else if (this.pending.size === 0 && !this.filling) this.resolveIdle();
  }

  /** Fills [next, lowest pending seq) from the paged API, then drains (which may start the next fill). */
  private async fillHole(): Promise<void> {
    this.filling = true;
    let lowest = Infinity;
    for (const seq of this.pending.keys()) if (seq < lowest) lowest = seq;
    const attempts = Math.max(1, this.o.fillAttempts ?? FILL_ATTEMPTS);
    for (let attempt = 1; attempt <= attempts && !this.closed; attempt++) {
      try {
        const lines = await this.o.fetchRange(this.next, lowest - this.next);
        if (lines.length === 0) throw new Error(`log lines ${this.next}..${lowest - 1} are not available yet`);
        if (this.closed) break;
        for (const line of lines) if (line.seq >= this.next) this.pending.set(line.seq, line);
        break;
      } catch (err) {
        if (this.closed) break;
        if (attempt === attempts) {
          this.o.onError?.(err);
          // Never stall the stream forever: after the retries, carry on from what we have.
          if (!this.pending.has(this.next)) this.next = lowest;
        } else {
          await new Promise((resolve) => setTimeout(resolve, FILL_BACKOFF_MS * attempt));
        }
      }
    }
    this.filling = false;
    if (this.closed) this.resolveIdle();
    else this.drain();
  }

  private resolveIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
