import { describe, expect, it } from 'vitest';
import type { LogLine } from '../model/run.js';
import type { Status } from '../model/status.js';
import type { EngineEvent, LogChunk } from './engine-api.js';
import { followJobLog, type JobLogFeed } from './log-follower.js';

const line = (seq: number): LogLine => ({ seq, ts: 1_700_000_000_000 + seq, stream: 'stdout', step: 0, text: `line ${seq}` });
const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * An in-memory job log with the engine's two feeds: `getLog` pages (complete once the job is
 * terminal and the page reaches the end) and live events. `hold` delays the answers of page reads.
 */
class MemoryFeed implements JobLogFeed {
  readonly lines: LogLine[] = [];
  status: Status = 'running';
  readonly reads: number[] = [];
  private readonly listeners = new Set<(event: EngineEvent) => void>();
  private held: Array<() => void> | null = null;

  async getLog(offset: number, limit: number): Promise<LogChunk> {
    this.reads.push(offset);
    const lines = this.lines.slice(offset, offset + limit);
    const nextOffset = offset + lines.length;
    const chunk = { lines, nextOffset, total: this.lines.length, complete: (this.status === 'passed' || this.status === 'failed') && nextOffset >= this.lines.length };
    // A held read answers with what the log held when it was asked (as a slow response would).
    if (this.held) await new Promise<void>((r) => this.held!.push(r));
    return chunk;
  }

  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /** Stores lines, then publishes `published` of them (all by default) as one live event. */
  write(count: number, published?: (lines: LogLine[]) => LogLine[]): void {
    const added = Array.from({ length: count }, (_, i) => line(this.lines.length + i));
    this.lines.push(...added);
    this.publish({ type: 'log', jobId: 'job-1', lines: published ? published(added) : added });
  }

  finish(status: Status = 'passed'): void {
    this.status = status;
    this.publish({ type: 'job', runId: 'run-1', jobId: 'job-1', status });
  }

  publish(event: EngineEvent): void {
    for (const l of [...this.listeners]) l(event);
  }

  hold(): void {
    this.held = [];
  }

  release(): void {
    const waiting = this.held ?? [];
    this.held = null;
    for (const r of waiting) r();
  }
}

function follow(feed: MemoryFeed, from = 0) {
  const seen: number[] = [];
  const ends: number[] = [];
  const errors: unknown[] = [];
  const stop = followJobLog(feed, {
    jobId: 'job-1',
    from,
    onLines: (lines) => seen.push(...lines.map((l) => l.seq)),
    onEnd: (next) => ends.push(next),
    onError: (err) => errors.push(err),
  });
  return { seen, ends, errors, stop };
}

describe('following a job log', () => {
  it('sends the stored backlog, then live lines, then ends once after the job finishes', async () => {
    const feed = new MemoryFeed();
    for (let i = 0; i < 2500; i++) feed.lines.push(line(i));
    const f = follow(feed);
    await tick();
    expect(f.seen.length).toBe(2500);
    feed.write(3);
    expect(f.seen.slice(-3)).toEqual([2500, 2501, 2502]);
    feed.finish();
    await tick();
    expect(f.seen).toEqual(feed.lines.map((l) => l.seq));
    expect(f.ends).toEqual([2503]);
    expect(feed.subscribers).toBe(0);
  });

  it('starts at the given seq', async () => {
    const feed = new MemoryFeed();
    for (let i = 0; i < 10; i++) feed.lines.push(line(i));
    feed.status = 'passed';
    const f = follow(feed, 7);
    await tick();
    expect(f.seen).toEqual([7, 8, 9]);
    expect(f.ends).toEqual([10]);
  });

  it('sends live lines published while the backlog is read only once, after it', async () => {
    const feed = new MemoryFeed();
    feed.write(5);
    feed.hold();
    const f = follow(feed);
    feed.write(3);
    feed.write(2);
    expect(f.seen).toEqual([]);
    feed.release();
    await tick();
    expect(f.seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('fills a hole left by a lost live event from the paged log', async () => {
    const feed = new MemoryFeed();
    const f = follow(feed);
    await tick();
    feed.write(2);
    feed.write(3, () => []);
    feed.write(2);
    await tick();
    expect(f.seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('drops live lines delivered twice and puts out-of-order ones in order', async () => {
    const feed = new MemoryFeed();
    const f = follow(feed);
    await tick();
    feed.write(4, (added) => [added[2], added[3], added[0], added[1], added[1]]);
    feed.publish({ type: 'log', jobId: 'job-1', lines: [line(0), line(3)] });
    await tick();
    expect(f.seen).toEqual([0, 1, 2, 3]);
  });

  it('still ends when the job finishes while a page read that saw it running is in flight', async () => {
    const feed = new MemoryFeed();
    feed.write(3);
    const f = follow(feed);
    feed.hold();
    await tick();
    // The backlog's second read (from 3, still running, nothing new) is waiting for its answer.
    expect(feed.reads).toEqual([0, 3]);
    feed.finish();
    feed.release();
    await tick();
    expect(feed.reads).toEqual([0, 3, 3]);
    expect(f.seen).toEqual([0, 1, 2]);
    expect(f.ends).toEqual([3]);
  });

  it('reads the pages again every pollMs, so a lost end event still ends the log', async () => {
    const feed = new MemoryFeed();
    feed.write(2);
    const ends: number[] = [];
    const stop = followJobLog(feed, { jobId: 'job-1', from: 0, onLines: () => undefined, onEnd: (next) => ends.push(next), pollMs: 20 });
    await tick();
    feed.status = 'passed';
    await tick(60);
    expect(ends).toEqual([2]);
    stop();
  });

  it('ignores other jobs and calls nothing after stop', async () => {
    const feed = new MemoryFeed();
    const f = follow(feed);
    await tick();
    feed.publish({ type: 'log', jobId: 'job-2', lines: [line(0)] });
    feed.publish({ type: 'job', runId: 'run-1', jobId: 'job-2', status: 'passed' });
    expect(f.seen).toEqual([]);
    f.stop();
    feed.write(2);
    feed.finish();
    await tick();
    expect(f.seen).toEqual([]);
    expect(f.ends).toEqual([]);
    expect(feed.subscribers).toBe(0);
  });

  it('reports a page that cannot be read', async () => {
    const feed = new MemoryFeed();
    feed.getLog = async () => { throw new Error('job log unreadable'); };
    const f = follow(feed);
    await tick();
    expect(f.errors.map((e) => (e as Error).message)).toEqual(['job log unreadable']);
    expect(f.ends).toEqual([]);
    f.stop();
  });
});
