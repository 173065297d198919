import type { LogLine } from '../../shared/model/run.js';

/**
 * Turns lines arriving from a live feed (possibly duplicated after a reconnect, possibly with a hole
 * when events were dropped) into one ordered stream without gaps or duplicates. A hole is filled by
 * `fetchRange(from, count)` (the paged log API) before anything after it is emitted.
 */
const MAX_FILL_ATTEMPTS = 5;

export class LogSequencer {
  private next: number;
  private readonly pending = new Map<number, LogLine>();
  private filling = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    fromSeq: number,
    private readonly fetchRange: (from: number, count: number) => Promise<LogLine[]>,
    private readonly emit: (lines: LogLine[]) => void,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.next = fromSeq;
  }

  /** The seq of the next line to emit: where a reconnect must resume. */
  get nextSeq(): number {
    return this.next;
  }

  push(lines: readonly LogLine[]): void {
    if (this.closed) return;
    for (const line of lines) if (line.seq >= this.next) this.pending.set(line.seq, line);
    this.drain();
  }

  close(): void {
    this.closed = true;
    this.pending.clear();
    this.resolveIdle();
  }

  /** Resolves once no hole is being filled and nothing is waiting behind one. */
  whenIdle(): Promise<void> {
    if (!this.filling && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private drain(): void {
    const out: LogLine[] = [];
    while (this.pending.has(this.next)) {
      out.push(this.pending.get(this.next)!);
      this.pending.delete(this.next);
      this.next++;
    }
    if (out.length > 0) this.emit(out);
    if (this.pending.size > 0 && !this.filling) void this.fillHole();
    else if (this.pending.size === 0 && !this.filling) this.resolveIdle();
  }

  private async fillHole(): Promise<void> {
    this.filling = true;
    const lowest = Math.min(...this.pending.keys());
    for (let attempt = 0; attempt < MAX_FILL_ATTEMPTS && !this.closed; attempt++) {
      try {
        const lines = await this.fetchRange(this.next, lowest - this.next);
        if (lines.length === 0) throw new Error(`log lines ${this.next}..${lowest - 1} are not available yet`);
        for (const line of lines) if (line.seq >= this.next && !this.closed) this.pending.set(line.seq, line);
        break;
      } catch (err) {
        if (attempt === MAX_FILL_ATTEMPTS - 1) {
          this.onError(err);
          // Never stall the stream forever: after the retries, carry on from what we have.
          if (!this.pending.has(this.next)) this.next = lowest;
        } else {
          await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
        }
      }
    }
    this.filling = false;
    if (!this.closed) this.drain();
  }

  private resolveIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
