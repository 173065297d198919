import { appendFileSync, mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { INDEX_EVERY, LogStore } from '../../src-main/storage/log-store.js';

let dir: string;
let store: LogStore | undefined;
afterEach(async () => {
  await store?.closeAll();
  store = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function fresh(): LogStore {
  dir = mkdtempSync(join(tmpdir(), 'kiln-logs-'));
  store = new LogStore(join(dir, 'logs'));
  return store;
}

describe('a job log', () => {
  it('numbers lines from 0 without gaps and reads any window back', async () => {
    const s = fresh();
    for (let i = 0; i < 3000; i++) {
      const line = s.append('job-1', { ts: i, stream: i % 2 ? 'stderr' : 'stdout', step: i < 10 ? null : 1, text: `line ${i} ünïcödé "quoted"` });
      expect(line.seq).toBe(i);
    }
    expect(s.count('job-1')).toBe(3000);
    const window = await s.read('job-1', 1020, 10);
    expect(window.map((l) => l.seq)).toEqual([1020, 1021, 1022, 1023, 1024, 1025, 1026, 1027, 1028, 1029]);
    expect(window[4]).toEqual({ seq: 1024, ts: 1024, stream: 'stdout', step: 1, text: 'line 1024 ünïcödé "quoted"' });
    expect((await s.read('job-1', 2995, 100)).map((l) => l.seq)).toEqual([2995, 2996, 2997, 2998, 2999]);
    expect(await s.read('job-1', 3000, 100)).toEqual([]);
    expect(await s.read('unknown-job', 0, 10)).toEqual([]);
  });

  it('continues the same numbering after the store is reopened (a retried attempt)', async () => {
    const s = fresh();
    for (let i = 0; i < 1500; i++) s.append('job-2', { ts: 0, stream: 'stdout', step: 0, text: `a${i}` });
    await s.closeAll();
    store = new LogStore(join(dir, 'logs'));
    expect(store.count('job-2')).toBe(1500);
    expect(store.append('job-2', { ts: 0, stream: 'system', step: null, text: 'attempt 2' }).seq).toBe(1500);
    expect((await store.read('job-2', 1499, 5)).map((l) => l.text)).toEqual(['a1499', 'attempt 2']);
  });

  it('drops a torn last record left by a crash and a stale index, and keeps numbering consistent', async () => {
    const s = fresh();
    for (let i = 0; i < 2 * INDEX_EVERY + 5; i++) s.append('job-3', { ts: 0, stream: 'stdout', step: 0, text: `l${i}` });
    await s.closeAll();
    const file = join(dir, 'logs', 'job-3.log');
    appendFileSync(file, '{"t":0,"s":"o","p":0,"x":"torn'); // half a record, as a kill -9 mid-write leaves it
    truncateSync(join(dir, 'logs', 'job-3.idx'), 3); // and a damaged index
    store = new LogStore(join(dir, 'logs'));
    expect(store.count('job-3')).toBe(2 * INDEX_EVERY + 5);
    expect(store.append('job-3', { ts: 0, stream: 'stdout', step: 0, text: 'after' }).seq).toBe(2 * INDEX_EVERY + 5);
    expect((await store.read('job-3', 2 * INDEX_EVERY + 4, 3)).map((l) => l.text)).toEqual([`l${2 * INDEX_EVERY + 4}`, 'after']);
    expect((await store.read('job-3', INDEX_EVERY + 1, 1))[0].text).toBe(`l${INDEX_EVERY + 1}`);
  });

  it('finds lines case-insensitively with their seq and step, up to the limit', async () => {
    const s = fresh();
    for (let i = 0; i < 500; i++) s.append('job-4', { ts: 0, stream: 'stdout', step: i % 3, text: i % 100 === 7 ? `ERROR: disk ${i} "full"` : `ok ${i}` });
    expect(await s.search('job-4', 'error: DISK', 10)).toEqual([7, 107, 207, 307, 407].map((seq) => ({ seq, step: seq % 3, text: `ERROR: disk ${seq} "full"` })));
    expect(await s.search('job-4', '"full"', 2)).toHaveLength(2);
    expect(await s.search('job-4', 'no such text', 10)).toEqual([]);
  });
});

describe('a 1,000,000-line log', () => {
  it('serves a page from anywhere in it in milliseconds', async () => {
    const s = fresh();
    const text = 'x'.repeat(60);
    for (let i = 0; i < 1_000_000; i++) s.append('big', { ts: 1_700_000_000_000, stream: 'stdout', step: 0, text: `${i} ${text}` });
    await s.closeAll();
    expect(statSync(join(dir, 'logs', 'big.log')).size).toBeGreaterThan(60_000_000);
    store = new LogStore(join(dir, 'logs'));
    await store.read('big', 0, 1); // first touch loads the sparse index
    const times: number[] = [];
    for (const offset of [999_000, 500_123, 3, 777_777]) {
      const t0 = performance.now();
      const page = await store.read('big', offset, 500);
      times.push(performance.now() - t0);
      expect(page[0].seq).toBe(offset);
      expect(page[0].text.startsWith(`${offset} `)).toBe(true);
      expect(page).toHaveLength(500);
    }
    expect(Math.max(...times)).toBeLessThan(50);
  });
});
