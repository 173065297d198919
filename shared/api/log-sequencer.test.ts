import { describe, expect, it } from 'vitest';
import type { LogLine } from '../model/run.js';
import type { LogChunk } from './engine-api.js';
import { LogSequencer } from './log-sequencer.js';

const line = (seq: number): LogLine => ({ seq, ts: 1_700_000_000_000 + seq, stream: 'stdout', step: 0, text: `line ${seq}` });
const range = (from: number, to: number): LogLine[] => Array.from({ length: to - from }, (_, i) => line(from + i));

/** A sequencer over a stored log of `store` whose paged reads return at most `pageLimit` lines. */
function collect(fromSeq: number, store: LogLine[] = range(0, 100), pageLimit = Infinity) {
  const seen: number[] = [];
  const fetches: Array<[number, number]> = [];
  const seq = new LogSequencer({
    from: fromSeq,
    fetchRange: async (from, count) => {
      fetches.push([from, count]);
      return store.filter((l) => l.seq >= from && l.seq < from + Math.min(count, pageLimit));
    },
    emit: (lines) => seen.push(...lines.map((l) => l.seq)),
  });
  return { seq, seen, fetches };
}

/** A promise with its resolve function, to hold a paged read open. */
function deferred<T>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

const chunk = (lines: LogLine[], complete: boolean, from: number): LogChunk => ({ lines, complete, nextOffset: lines.length ? lines[lines.length - 1].seq + 1 : from });

describe('LogSequencer', () => {
  it('emits lines in order from the start seq', () => {
    const { seq, seen } = collect(0);
    seq.push(range(0, 5));
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(seq.nextSeq).toBe(5);
  });

  it('drops lines replayed after a reconnect, so none is shown twice', () => {
    const { seq, seen } = collect(0);
    seq.push(range(0, 5));
    seq.push(range(3, 8));
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('fills a hole from the paged log before emitting what follows it', async () => {
    const { seq, seen, fetches } = collect(0);
    seq.push(range(0, 3));
    seq.push(range(7, 9));
    await seq.whenIdle();
    expect(fetches).toEqual([[3, 4]]);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('reorders lines that arrive out of order', async () => {
    const { seq, seen } = collect(10);
    seq.push([line(11)]);
    seq.push([line(10)]);
    await seq.whenIdle();
    expect(seen).toEqual([10, 11]);
  });

  it('emits nothing after close', () => {
    const { seq, seen } = collect(0);
    seq.close();
    seq.push(range(0, 3));
    expect(seen).toEqual([]);
  });

  it('drops a whole replayed backlog after a reconnect and passes on only the new lines', async () => {
    const { seq, seen } = collect(0);
    seq.push(range(0, 6));
    // The stream reconnects from an older position: 2..5 come again, then new lines 6..7.
    seq.push(range(2, 8));
    seq.push(range(2, 8));
    await seq.whenIdle();
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('fills a hole larger than one page of the paged API over several reads', async () => {
    const { seq, seen, fetches } = collect(0, range(0, 100), 4);
    seq.push([line(0)]);
    seq.push([line(10)]);
    await seq.whenIdle();
    expect(fetches).toEqual([[1, 9], [5, 5], [9, 1]]);
    expect(seen).toEqual(range(0, 11).map((l) => l.seq));
  });

  it('holds lines behind a hole until the fill arrives, whatever order the live lines come in', async () => {
    const { seq, seen } = collect(0);
    seq.push([line(4), line(2)]);
    seq.push([line(3), line(0)]);
    expect(seen).toEqual([0]);
    await seq.whenIdle();
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it('emits nothing from a fill that lands after close, and whenIdle does not wait for it', async () => {
    const page = deferred<LogLine[]>();
    const seen: number[] = [];
    let fetches = 0;
    const seq = new LogSequencer({ from: 0, fetchRange: () => { fetches++; return page.promise; }, emit: (lines) => seen.push(...lines.map((l) => l.seq)) });
    seq.push([line(0), line(3)]);
    expect(seen).toEqual([0]);
    expect(fetches).toBe(1);
    seq.close();
    await seq.whenIdle();
    page.resolve([line(1), line(2)]);
    await new Promise((r) => setTimeout(r, 10));
    seq.push([line(1)]);
    expect(seen).toEqual([0]);
    expect(fetches).toBe(1);
  });

  it('reports a hole it cannot read after its attempts and carries on after it', async () => {
    const errors: unknown[] = [];
    const seen: number[] = [];
    const seq = new LogSequencer({
      from: 0,
      fetchRange: async () => { throw new Error('store unavailable'); },
      emit: (lines) => seen.push(...lines.map((l) => l.seq)),
      onError: (err) => errors.push(err),
      fillAttempts: 2,
    });
    seq.push([line(0), line(5), line(6)]);
    await seq.whenIdle();
    expect(errors.map((e) => (e as Error).message)).toEqual(['store unavailable']);
    expect(seen).toEqual([0, 5, 6]);
    expect(seq.nextSeq).toBe(7);
  });

  it('reads pages from nextSeq until one says complete, dropping what live lines already delivered', async () => {
    const store = range(0, 2500);
    const { seq, seen } = collect(0, store);
    const reads: number[] = [];
    const last = await seq.readPages(async (offset) => {
      reads.push(offset);
      // A live batch lands while the first page is in flight.
      if (offset === 0) seq.push(range(0, 10));
      const lines = store.slice(offset, offset + 1000);
      return chunk(lines, offset + lines.length >= store.length, offset);
    });
    expect(reads).toEqual([0, 1000, 2000]);
    expect(last?.complete).toBe(true);
    expect(seen).toEqual(store.map((l) => l.seq));
  });

  it('stops reading pages when one brings nothing new, leaving the rest to live lines', async () => {
    const { seq, seen } = collect(0);
    const reads: number[] = [];
    const last = await seq.readPages(async (offset) => {
      reads.push(offset);
      return chunk(offset === 0 ? range(0, 3) : [], false, offset);
    });
    expect(reads).toEqual([0, 3]);
    expect(last?.complete).toBe(false);
    expect(seen).toEqual([0, 1, 2]);
  });
});
