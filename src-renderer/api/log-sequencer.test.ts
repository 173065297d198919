import { describe, expect, it } from 'vitest';
import type { LogLine } from '../../shared/model/run.js';
import { LogSequencer } from './log-sequencer.js';

const line = (seq: number): LogLine => ({ seq, ts: 1_700_000_000_000 + seq, stream: 'stdout', step: 0, text: `line ${seq}` });
const range = (from: number, to: number): LogLine[] => Array.from({ length: to - from }, (_, i) => line(from + i));

function collect(fromSeq: number, store: LogLine[] = range(0, 100)) {
  const seen: number[] = [];
  const fetches: Array<[number, number]> = [];
  const seq = new LogSequencer(fromSeq, async (from, count) => {
    fetches.push([from, count]);
    return store.filter((l) => l.seq >= from && l.seq < from + count);
  }, (lines) => seen.push(...lines.map((l) => l.seq)));
  return { seq, seen, fetches };
}

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
});
