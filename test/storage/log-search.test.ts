import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FIRST_CHUNK } from '../../src-main/storage/log-search.js';
import { INDEX_EVERY, LogStore } from '../../src-main/storage/log-store.js';
import type { LogStream } from '../../shared/model/run.js';

let dir: string;
let store: LogStore | undefined;
afterEach(async () => {
  await store?.closeAll();
  store = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function fresh(): LogStore {
  dir = mkdtempSync(join(tmpdir(), 'kiln-log-search-'));
  store = new LogStore(join(dir, 'logs'));
  return store;
}

function add(s: LogStore, job: string, texts: string[], step: (i: number) => number | null = () => 0): void {
  const streams: LogStream[] = ['stdout', 'stderr', 'system'];
  texts.forEach((text, i) => s.append(job, { ts: 1_700_000_000_000 + i, stream: streams[i % 3], step: step(i), text }));
}

/** What search promises, computed the slow and obvious way: every line decoded and compared. */
async function reference(s: LogStore, job: string, query: string, limit: number): Promise<{ seq: number; step: number | null; text: string }[]> {
  const all = await s.read(job, 0, s.count(job));
  const needle = query.toLowerCase();
  return all.filter((l) => l.text.toLowerCase().includes(needle)).slice(0, limit).map((l) => ({ seq: l.seq, step: l.step, text: l.text }));
}

const seqs = (ms: { seq: number }[]): number[] => ms.map((m) => m.seq);

describe('searching a job log', () => {
  it('ignores case in ASCII and non-ASCII text alike', async () => {
    const s = fresh();
    add(s, 'j', ['Build NEEDLE here', 'nothing', 'a NeEdLe', 'ÜNÏCÖDÉ shout', 'ünïcödé whisper', 'Straße', 'ΟΔΥΣΣΕΥΣ', 'οδυσσευς']);
    expect(seqs(await s.search('j', 'needle', 10))).toEqual([0, 2]);
    expect(seqs(await s.search('j', 'NEEDLE', 10))).toEqual([0, 2]);
    expect(seqs(await s.search('j', 'ünïcödé', 10))).toEqual([3, 4]);
    expect(seqs(await s.search('j', 'ÜNÏCÖDÉ', 10))).toEqual([3, 4]);
    expect(seqs(await s.search('j', 'STRASSE', 10))).toEqual([]); // toLowerCase does not fold ß to ss
    expect(seqs(await s.search('j', 'straße', 10))).toEqual([5]);
    expect(seqs(await s.search('j', 'Οδυσσευς', 10))).toEqual([6, 7]);
  });

  it('matches the printed text, not the JSON escapes on disk', async () => {
    const s = fresh();
    add(s, 'j', ['say "hi" now', 'C:\\temp\\tools', 'tab\there', 'backslash-t \\t here', 'bell \u0007 rang', 'say \\"hi\\"']);
    expect(seqs(await s.search('j', '"hi"', 10))).toEqual([0]);
    expect(seqs(await s.search('j', '\\"hi\\"', 10))).toEqual([5]);
    expect(seqs(await s.search('j', 'c:\\TEMP\\', 10))).toEqual([1]);
    expect(seqs(await s.search('j', '\\t', 10))).toEqual([1, 3]); // a backslash then t
    expect(seqs(await s.search('j', 'b\there', 10))).toEqual([2]); // a real tab
    expect(seqs(await s.search('j', '\u0007', 10))).toEqual([4]);
    expect(seqs(await s.search('j', 'u0007', 10))).toEqual([]); // part of the escape `\u0007`, not of the text
    expect(seqs(await s.search('j', 'here"', 10))).toEqual([]); // `"` closes the record, it is not text
  });

  it('does not report lines whose timestamp, stream or step fields contain the query', async () => {
    const s = fresh();
    add(s, 'j', ['plain', 'has x in it', 'null pointer', 'the year 1700', 'braces {}', 'step 7'], (i) => (i === 2 ? null : 7));
    expect(seqs(await s.search('j', 'x', 10))).toEqual([1]);
    expect(seqs(await s.search('j', 'null', 10))).toEqual([2]);
    expect(seqs(await s.search('j', '1700', 10))).toEqual([3]);
    expect(seqs(await s.search('j', '}', 10))).toEqual([4]);
    expect(seqs(await s.search('j', '7', 10))).toEqual([3, 5]);
    expect(seqs(await s.search('j', ':', 10))).toEqual([]);
    expect(seqs(await s.search('j', '"t":', 10))).toEqual([]);
  });

  it('agrees with toLowerCase on characters whose lowercase is ASCII or depends on context', async () => {
    const s = fresh();
    // İ lowercases to "i̇" (two characters), the Kelvin sign to "k"; Σ to σ or, ending a word, ς —
    // and `\t` on disk puts a letter before Σ that the text does not have.
    add(s, 'j', ['İstanbul', 'istanbul', '300 \u212a', 'ok', 'A\tΣ', 'ΑΣ', 'i\u0307x']);
    for (const q of ['i', 'İ', 'İSTANBUL', 'istanbul', 'k', '300 K', 'Σ', 'σ', 'ς', 'aς', 'i\u0307', 'ok']) {
      expect(await s.search('j', q, 10), q).toEqual(await reference(s, 'j', q, 10));
    }
    expect(seqs(await s.search('j', 'σ', 10))).toEqual([4]);
    expect(seqs(await s.search('j', 'k', 10))).toEqual([2, 3]);
    expect(seqs(await s.search('j', 'İ', 10))).toEqual([0, 6]);
  });

  it('handles emoji and lone surrogates in the text and in the query', async () => {
    const s = fresh();
    add(s, 'j', ['rocket 🚀 launched', 'half \ud83d here', 'other half \ude80 there', 'plain']);
    for (const q of ['🚀', '\ud83d', '\ude80', 'half \ud83d', 'LAUNCHED']) {
      expect(await s.search('j', q, 10), JSON.stringify(q)).toEqual(await reference(s, 'j', q, 10));
    }
    expect(seqs(await s.search('j', '\ud83d', 10))).toEqual([0, 1]);
  });

  it('finds exactly what decoding and lowercasing every line finds, for random lines and queries', async () => {
    const s = fresh();
    let state = 42; // a fixed seed: a failure is reproducible
    const rand = (n: number): number => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % n;
    };
    const alphabet = ['a', 'A', 'k', 'K', 'i', 'I', 'İ', '\u212a', 'Σ', 'σ', 'ς', '"', '\\', '\t', '\n', '\u0001', 'ü', 'Ü', '🚀', '{', '}', ':', ',', '7', '0', 'x', 'n', 'u', 'l', ' ', 's'];
    const texts = Array.from({ length: 3000 }, () => Array.from({ length: rand(30) }, () => alphabet[rand(alphabet.length)]).join(''));
    add(s, 'j', texts, (i) => (i % 5 ? i % 3 : null));
    const all = await s.read('j', 0, texts.length);
    for (let q = 0; q < 300; q++) {
      const from = texts[rand(texts.length)];
      const start = rand(from.length + 1);
      let query = from.slice(start, start + 1 + rand(4));
      if (!query || rand(4) === 0) query = Array.from({ length: 1 + rand(3) }, () => alphabet[rand(alphabet.length)]).join('');
      query = rand(2) ? query.toUpperCase() : query;
      const limit = 1 + rand(40);
      const expected = all.filter((l) => l.text.toLowerCase().includes(query.toLowerCase())).slice(0, limit);
      expect(await s.search('j', query, limit), JSON.stringify(query)).toEqual(expected.map((l) => ({ seq: l.seq, step: l.step, text: l.text })));
    }
  });

  it('returns the first matches in seq order up to the limit, and nothing for an empty query', async () => {
    const s = fresh();
    add(s, 'j', Array.from({ length: 5000 }, (_, i) => (i % 10 === 3 ? `hit ${i}` : `miss ${i}`)), (i) => i % 4);
    const five = await s.search('j', 'HIT', 5);
    expect(five).toEqual([3, 13, 23, 33, 43].map((seq) => ({ seq, step: seq % 4, text: `hit ${seq}` })));
    expect(await s.search('j', 'hit', 1000)).toHaveLength(500);
    expect(await s.search('j', 'hit', 0)).toEqual([]);
    expect(await s.search('j', '', 10)).toEqual([]);
    expect(await s.search('unknown-job', 'hit', 10)).toEqual([]);
  });

  it('finds a line that straddles the boundary between two reads, with lines longer than a read', async () => {
    const s = fresh();
    // No index checkpoint falls inside the first read, so it ends at a newline; one line is longer than it.
    const texts: string[] = [];
    let bytes = 0;
    const recordBytes = (i: number, text: string): number => Buffer.byteLength(`${JSON.stringify({ t: 1_700_000_000_000 + i, s: ['o', 'e', 'y'][i % 3], p: 0, x: text })}\n`);
    while (bytes < FIRST_CHUNK - 5000) {
      const text = `filler ${texts.length} ${'.'.repeat(3000)}`;
      bytes += recordBytes(texts.length, text);
      texts.push(text);
    }
    // Place "needle" so that it starts 3 bytes before the first read's end.
    const prefix = recordBytes(texts.length, '') - 3; // record bytes before the text start (`"}\n` is 3)
    const pad = FIRST_CHUNK - 3 - bytes - prefix;
    texts.push(`${'ü'.repeat(Math.floor(pad / 2))}${pad % 2 ? '.' : ''}needle across`);
    texts.push(`long ${'y'.repeat(5 * 1024 * 1024)} NEEDLE at the end`); // longer than the largest read
    for (let i = 0; i < 3 * INDEX_EVERY; i++) texts.push(i % 700 === 5 ? `needle ${i}` : `short ${i}`);
    add(s, 'j', texts);
    await s.closeAll();
    const file = readFileSync(join(dir, 'logs', 'j.log'));
    expect(file.indexOf('needle across')).toBeLessThan(FIRST_CHUNK);
    expect(file.indexOf('needle across') + 6).toBeGreaterThan(FIRST_CHUNK);
    store = new LogStore(join(dir, 'logs'));
    const found = await store.search('j', 'needle', 100);
    expect(found).toEqual(await reference(store, 'j', 'needle', 100));
    expect(seqs(found).slice(0, 3)).toEqual([texts.length - 3 * INDEX_EVERY - 2, texts.length - 3 * INDEX_EVERY - 1, texts.length - 3 * INDEX_EVERY + 5]);
    expect(found).toHaveLength(2 + Math.ceil((3 * INDEX_EVERY - 5) / 700));
  });

  it('numbers matches right across many reads, with or without the saved index', async () => {
    const s = fresh();
    const n = 40_000; // ~4 MB: several reads of growing size, most ending on index checkpoints
    add(s, 'j', Array.from({ length: n }, (_, i) => (i % 997 === 0 ? `Needle ${i} ü` : `compiling module ${i % 89} ok — ${'z'.repeat(i % 50)}`)), (i) => Math.floor(i / 1000));
    await s.closeAll();
    expect(statSync(join(dir, 'logs', 'j.log')).size).toBeGreaterThan(4 * FIRST_CHUNK);
    for (const dropIndex of [false, true]) {
      if (dropIndex) unlinkSync(join(dir, 'logs', 'j.idx'));
      store = new LogStore(join(dir, 'logs'));
      const found = await store.search('j', 'needle', 1000);
      expect(seqs(found)).toEqual(Array.from({ length: Math.ceil(n / 997) }, (_, k) => k * 997));
      expect(found[7]).toEqual({ seq: 7 * 997, step: Math.floor((7 * 997) / 1000), text: `Needle ${7 * 997} ü` });
      expect(await store.search('j', 'no such text', 10)).toEqual([]);
      await store.closeAll();
    }
  });

  it('sees lines appended a moment ago while the job is still writing', async () => {
    const s = fresh();
    add(s, 'j', ['first needle']);
    expect(seqs(await s.search('j', 'needle', 10))).toEqual([0]);
    add(s, 'j', ['second', 'third NEEDLE']);
    expect(seqs(await s.search('j', 'needle', 10))).toEqual([0, 2]);
  });

  it('searches a log written before this search existed (same on-disk records, no index file)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-log-search-'));
    const logs = join(dir, 'logs');
    store = new LogStore(logs);
    writeFileSync(join(logs, 'old.log'), [
      '{"t":1,"s":"o","p":null,"x":"Checkout done"}',
      '{"t":2,"s":"e","p":0,"x":"ERROR: \\"disk\\" full \\u001b[31m"}',
      '{"t":3,"s":"y","p":1,"x":"error again"}',
    ].map((l) => `${l}\n`).join(''));
    expect(await store.search('old', 'error', 10)).toEqual([
      { seq: 1, step: 0, text: 'ERROR: "disk" full \u001b[31m' },
      { seq: 2, step: 1, text: 'error again' },
    ]);
    expect(seqs(await store.search('old', '"DISK"', 10))).toEqual([1]);
  });
});
