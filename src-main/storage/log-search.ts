/**
 * Case-insensitive search over one job log file (the format log-store.ts writes: one JSON record per
 * line, `{"t":ts,"s":"o|e|y","p":step|null,"x":text}`, plus a sparse index of line offsets).
 *
 * A line matches when `text.toLowerCase().includes(query.toLowerCase())` — the decoded text, so a
 * query containing `"` or `\` matches what the job printed, not the JSON escapes on disk.
 *
 * Why not parse every record: a 1,000,000-line log is ~110 MB and JSON.parse of every line takes
 * most of a second. Instead the file is read in large chunks and the escaped, lowercased query is
 * looked for in the raw bytes; only the lines with a hit are parsed and checked exactly. The raw scan
 * must never miss a line the exact check would accept; it may report extra lines (hits in the record's
 * other fields, across an escape), which the exact check drops. Seqs come from the sparse index:
 * chunks end on index checkpoints, so newlines are counted only between a checkpoint and a hit.
 * Every chunk is an awaited read, so a long search never holds the event loop for more than a chunk.
 */
import { open, type FileHandle } from 'node:fs/promises';

export interface LogSearchMatch { seq: number; step: number | null; text: string }

/** A log as the search needs it: `index[k]` is the byte offset of line k * every; `bytes` ends on a newline. */
export interface SearchableLog { file: string; index: readonly number[]; every: number; bytes: number }

interface Record_ { p: number | null; x: string }

export const FIRST_CHUNK = 256 * 1024; // small first read: a common term fills its limit in the first lines
const MAX_CHUNK = 2 * 1024 * 1024; // scanned in ~1 ms (measured); 4 MB was no faster overall, 1 MB slower (more awaited reads)
const NL = 10;
/** Where the text starts in a record: `"x":"` cannot occur earlier (the other fields are numbers and a code) nor inside the escaped text. */
const TEXT_KEY = '"x":"';

/**
 * Non-ASCII characters whose lowercase contains an ASCII letter (U+0130 İ → "i̇", U+212A Kelvin → "k"),
 * found by enumerating every code point (a unit test re-checks the list). Only they can make an ASCII
 * query match bytes that are not ASCII, so chunks containing them take the exact, slower path.
 */
export const ASCII_LOWERING = ['\u0130', '\u212a'];
const ASCII_LOWERING_UTF8 = ASCII_LOWERING.map((c) => Buffer.from(c, 'utf8'));
/** Characters of a record before its text: `{"t":1700000000000,"s":"o","p":null,"x":"` (numbers may have - . e +). */
const FIELD_CHARS = /^[-{"tsxpoeynul:,0-9.+]+$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** How one query is looked for; built once per search. */
interface Plan {
  needle: string;
  /** The needle as it appears in a record on disk (JSON-escaped). */
  escaped: string;
  /** ASCII needle: matched on bytes (latin1 view) with a case-insensitive regexp. */
  ascii?: RegExp;
  /** The ASCII needle contains a letter some non-ASCII character lowercases to. */
  asciiFromOthers: boolean;
  /** Greek sigma lowercases by context (σ or final ς), and the context differs on disk: compare both as σ. */
  sigma: boolean;
  /** A lone surrogate is escaped on disk only when it is lone in the text too: check every line. */
  everyLine: boolean;
}

/**
 * The case-insensitive regexp for an ASCII needle, on the latin1 view of the bytes (non-unicode `i`
 * never folds a character above 127 onto ASCII). A needle made only of characters the record's
 * other fields use (digits, `null`, the one-letter keys and stream codes) would hit every line
 * there; for it the regexp itself skips hits followed on their line by `":"`, which only the fields
 * before the text contain (quotes inside the text are escaped), so such lines never reach JavaScript.
 */
function asciiPattern(escaped: string): RegExp {
  const source = escaped.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  return new RegExp(FIELD_CHARS.test(escaped) ? `${source}(?![^\\n]*?":")` : source, 'gi');
}

function plan(query: string): Plan {
  const needle = query.toLowerCase();
  const escaped = JSON.stringify(needle).slice(1, -1);
  const isAscii = /^[\x00-\x7f]*$/.test(needle);
  return {
    needle,
    escaped,
    ascii: isAscii ? asciiPattern(escaped) : undefined,
    asciiFromOthers: isAscii && /[ik]/.test(needle),
    sigma: /[σς]/.test(needle),
    everyLine: LONE_SURROGATE.test(needle),
  };
}

/** Largest k with index[k] <= pos (index[0] = 0). */
function checkpointAtOrBefore(index: readonly number[], pos: number): number {
  let lo = 0;
  let hi = index.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (index[mid] <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function countNewlines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = buf.indexOf(NL, from); i >= 0 && i < to; i = buf.indexOf(NL, i + 1)) n++;
  return n;
}

/** Collects matches of one search; decides each candidate line exactly. */
class Collector {
  readonly out: LogSearchMatch[] = [];
  constructor(private readonly p: Plan, private readonly limit: number) {}

  get full(): boolean {
    return this.out.length >= this.limit;
  }

  /** Parses a candidate record and keeps it if its text really contains the needle. */
  offer(raw: string, seq: () => number): void {
    const r = JSON.parse(raw) as Record_;
    if (r.x.toLowerCase().includes(this.p.needle)) this.out.push({ seq: seq(), step: r.p, text: r.x });
  }
}

/**
 * Lines of `chunk` (whole lines; the first is line `seq`, at byte `start` of the file), ASCII needle,
 * no character in the chunk lowercasing into ASCII: a byte-level scan with the case-insensitive regexp.
 */
function scanAscii(re: RegExp, log: SearchableLog, chunk: Buffer, start: number, seq: number, c: Collector): void {
  const s = chunk.toString('latin1'); // one char per byte: string positions are byte positions
  re.lastIndex = 0;
  // The last line start whose seq is known, moved forward to index checkpoints as hits are met.
  let known = 0;
  let knownSeq = seq;
  const seqAt = (lineStart: number): number => {
    const k = checkpointAtOrBefore(log.index, start + lineStart);
    if (log.index[k] - start > known) {
      known = log.index[k] - start;
      knownSeq = k * log.every;
    }
    knownSeq += countNewlines(chunk, known, lineStart);
    known = lineStart;
    return knownSeq;
  };
  for (let m = re.exec(s); m && !c.full; m = re.exec(s)) {
    const at = m.index;
    const lineStart = s.lastIndexOf('\n', at) + 1;
    const lineEnd = s.indexOf('\n', at);
    const key = s.indexOf(TEXT_KEY, lineStart);
    const textStart = key >= 0 && key < lineEnd ? key + TEXT_KEY.length : lineStart;
    if (at < textStart) {
      re.lastIndex = textStart; // a hit in the timestamp, stream or step: look on in this line's text
      continue;
    }
    // A hit reaching into the closing `"}` is not in the text (e.g. `}`, or `\"` after a text ending in `\`).
    if (at + m[0].length <= lineEnd - 2) c.offer(chunk.toString('utf8', lineStart, lineEnd), () => seqAt(lineStart));
    re.lastIndex = lineEnd + 1;
  }
}

/**
 * Any needle on any chunk: the chunk decoded and lowercased as a whole, the escaped needle looked for
 * in it. Lines are counted in the string (index checkpoints are byte offsets, not string positions).
 */
function scanText(p: Plan, chunk: Buffer, seq: number, c: Collector): void {
  const s = chunk.toString('utf8');
  let lower = s.toLowerCase();
  if (p.everyLine || lower.length !== s.length) {
    // İ lowercases to two characters, so positions in `lower` no longer match `s`; or the needle
    // holds a lone surrogate. Rare: check every line of this chunk.
    let from = 0;
    for (let nl = s.indexOf('\n'); nl >= 0 && !c.full; nl = s.indexOf('\n', from)) {
      const lineSeq = seq++;
      c.offer(s.slice(from, nl), () => lineSeq);
      from = nl + 1;
    }
    return;
  }
  let escaped = p.escaped;
  if (p.sigma) {
    lower = lower.replaceAll('ς', 'σ');
    escaped = escaped.replaceAll('ς', 'σ');
  }
  let known = 0;
  let knownSeq = seq;
  for (let at = lower.indexOf(escaped); at >= 0 && !c.full; at = lower.indexOf(escaped, at)) {
    const lineStart = lower.lastIndexOf('\n', at) + 1;
    const lineEnd = lower.indexOf('\n', at);
    const key = s.indexOf(TEXT_KEY, lineStart);
    const textStart = key >= 0 && key < lineEnd ? key + TEXT_KEY.length : lineStart;
    if (at < textStart) {
      at = textStart;
      continue;
    }
    if (at + escaped.length <= lineEnd - 2) {
      c.offer(s.slice(lineStart, lineEnd), () => {
        for (let nl = s.indexOf('\n', known); nl >= 0 && nl < lineStart; nl = s.indexOf('\n', nl + 1)) knownSeq++;
        known = lineStart;
        return knownSeq;
      });
    }
    at = lineEnd + 1;
  }
}

function hasAsciiLowering(chunk: Buffer): boolean {
  return ASCII_LOWERING_UTF8.some((b) => chunk.indexOf(b) >= 0);
}

async function readFully(handle: FileHandle, buf: Buffer, length: number, position: number): Promise<number> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buf, got, length - got, position + got);
    if (bytesRead <= 0) break;
    got += bytesRead;
  }
  return got;
}

/** Up to `limit` matching lines in seq order. Reads only the first `log.bytes` bytes (whole records). */
export async function searchLogFile(log: SearchableLog, query: string, limit: number): Promise<LogSearchMatch[]> {
  const p = plan(query);
  if (!p.needle || !(limit >= 1) || log.bytes <= 0) return [];
  const c = new Collector(p, Math.floor(limit));
  const handle = await open(log.file, 'r');
  const read = (into: Buffer, at: number): Promise<number> => readFully(handle, into, Math.min(into.length, log.bytes - at), at);
  // Two buffers: the next chunk is read (in libuv's thread pool) while this one is scanned.
  let buf = Buffer.allocUnsafe(FIRST_CHUNK);
  let spare = Buffer.allocUnsafe(FIRST_CHUNK * 4);
  let pending: Promise<number> | undefined;
  try {
    let pos = 0; // a line start whose seq is known
    let seq = 0;
    let n = await read(buf, pos);
    while (n > 0 && !c.full) {
      // End the chunk on a checkpoint when one is inside it: the next chunk's seq is then known.
      const k = checkpointAtOrBefore(log.index, pos + n);
      const onCheckpoint = log.index[k] > pos;
      const len = onCheckpoint ? log.index[k] - pos : buf.lastIndexOf(NL, n - 1) + 1;
      if (len === 0) {
        if (pos + n >= log.bytes) break; // no newline before the end: not a whole record
        buf = Buffer.allocUnsafe(buf.length * 2); // one line longer than the buffer
        n = await read(buf, pos);
        continue;
      }
      const next = pos + len;
      pending = next < log.bytes ? read(spare, next) : undefined;
      const chunk = buf.subarray(0, len);
      if (p.ascii && !(p.asciiFromOthers && hasAsciiLowering(chunk))) scanAscii(p.ascii, log, chunk, pos, seq, c);
      else scanText(p, chunk, seq, c);
      seq = onCheckpoint ? k * log.every : seq + countNewlines(chunk, 0, len);
      pos = next;
      n = pending ? await pending : 0; // also yields to the event loop between chunks
      pending = undefined;
      [buf, spare] = [spare, buf.length < MAX_CHUNK ? Buffer.allocUnsafe(Math.min(MAX_CHUNK, spare.length * 4)) : buf];
    }
  } finally {
    await pending?.catch(() => 0); // never close the file under a read
    await handle.close();
  }
  return c.out;
}
