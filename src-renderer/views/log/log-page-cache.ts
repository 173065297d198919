import type { LogChunk } from '../../../shared/api/engine-api.js';
import type { LogLine } from '../../../shared/model/run.js';

export const PAGE_SIZE = 1000;
/** At most this many pages stay in memory (400k lines); the least recently used go first. */
const MAX_PAGES = 400;

type GetLog = (offset: number, limit: number) => Promise<LogChunk>;

/**
 * A sparse, paged cache of one job's log, in the renderer (the main side's LogStore is the log itself;
 * this only holds the pages a viewer has asked for). A 1,000,000-line log is never loaded whole: the viewer asks
 * for the rows it shows (`ensure`) and pages arrive on demand; live lines are appended as they come.
 * `onChange` is coalesced to one call per animation frame.
 */
export class LogPageCache {
  total = 0;
  complete = false;
  private readonly pages = new Map<number, Array<LogLine | undefined>>();
  private readonly fetched = new Set<number>();
  private readonly inflight = new Set<number>();
  private frame = 0;
  private disposed = false;

  constructor(private readonly getLog: GetLog, private readonly onChange: () => void) {}

  /**
   * Loads the first page (or takes one already requested, to save a round trip); `finished` says
   * whether the job has ended, in which case a known `total` means the log is complete.
   */
  async init(firstPage?: Promise<LogChunk>, finished = false): Promise<LogChunk> {
    const chunk = await (firstPage ?? this.getLog(0, PAGE_SIZE));
    this.put(chunk.lines);
    this.fetched.add(0);
    this.total = Math.max(this.total, chunk.total ?? chunk.nextOffset, chunk.nextOffset);
    this.complete = (chunk.complete && (chunk.total === undefined || chunk.nextOffset >= chunk.total)) || (finished && chunk.total !== undefined);
    this.changed();
    return chunk;
  }

  line(seq: number): LogLine | undefined {
    const p = Math.floor(seq / PAGE_SIZE);
    const page = this.pages.get(p);
    if (!page) return undefined;
    // Refresh LRU position.
    this.pages.delete(p);
    this.pages.set(p, page);
    return page[seq - p * PAGE_SIZE];
  }

  /** Live lines (already in order, no duplicates): extend the log. */
  append(lines: readonly LogLine[]): void {
    if (lines.length === 0) return;
    this.put(lines);
    this.total = Math.max(this.total, lines[lines.length - 1].seq + 1);
    this.changed();
  }

  markComplete(): void {
    this.complete = true;
    this.changed();
  }

  /** Makes sure lines [from, to] get loaded (pages fetched in the background). */
  ensure(from: number, to: number): void {
    if (this.total === 0) return;
    const first = Math.max(0, Math.floor(from / PAGE_SIZE));
    const last = Math.min(Math.floor((this.total - 1) / PAGE_SIZE), Math.floor(Math.max(from, to) / PAGE_SIZE));
    for (let p = first; p <= last; p++) {
      if (this.inflight.has(p)) continue;
      const page = this.pages.get(p);
      const pageEnd = Math.min(this.total, (p + 1) * PAGE_SIZE);
      const missing = page ? page.findIndex((l, i) => l === undefined && p * PAGE_SIZE + i < pageEnd) : 0;
      const full = page !== undefined && missing === -1 && page.length >= pageEnd - p * PAGE_SIZE;
      if (full || (this.fetched.has(p) && page && missing === -1)) continue;
      void this.fetchPage(p);
    }
  }

  dispose(): void {
    this.disposed = true;
    cancelAnimationFrame(this.frame);
  }

  private async fetchPage(p: number): Promise<void> {
    this.inflight.add(p);
    try {
      let offset = p * PAGE_SIZE;
      const end = (p + 1) * PAGE_SIZE;
      // The server may cap `limit`: keep reading until the page is full or the log ends.
      while (offset < end && !this.disposed) {
        const chunk = await this.getLog(offset, end - offset);
        this.put(chunk.lines);
        if (chunk.total !== undefined) this.total = Math.max(this.total, chunk.total);
        if (chunk.lines.length === 0 || chunk.nextOffset <= offset) break;
        offset = chunk.nextOffset;
      }
      this.fetched.add(p);
      this.changed();
    } catch {
      // Leave the page unfetched: the next render asks again.
    } finally {
      this.inflight.delete(p);
    }
  }

  private put(lines: readonly LogLine[]): void {
    for (const line of lines) {
      const p = Math.floor(line.seq / PAGE_SIZE);
      let page = this.pages.get(p);
      if (!page) {
        page = [];
        this.pages.set(p, page);
        this.evict();
      }
      page[line.seq - p * PAGE_SIZE] = line;
    }
  }

  private evict(): void {
    while (this.pages.size > MAX_PAGES) {
      const oldest = this.pages.keys().next().value as number;
      this.pages.delete(oldest);
      this.fetched.delete(oldest);
    }
  }

  private changed(): void {
    if (this.disposed || this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (!this.disposed) this.onChange();
    });
  }
}
