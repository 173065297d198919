/**
 * Secret masking on raw bytes, streaming.
 *
 * Every occurrence of a secret's bytes becomes `***` before a log line exists, so nothing unmasked is
 * ever stored or streamed. What is masked for each secret value:
 *   - the whole value;
 *   - for a multi-line value, each line (trimmed) of at least `minLineLength` bytes — shorter lines
 *     such as `{` or `}` of a JSON key would otherwise mask half the log;
 *   - the base64 form of the value (padding stripped, so `echo -n $S | base64` and longer encodings
 *     that start with it are both caught);
 *   - of each of these, the form a workflow command escapes it to (`%25` `%0D` `%0A`, and `%3A` `%2C`
 *     in properties): a command's fields are unescaped after masking, into annotations and titles.
 *
 * One Aho–Corasick automaton (a dense DFA over byte classes) finds all patterns in a single pass, so
 * the cost per byte does not grow with the number of secrets. Matches may overlap: their union is
 * masked. A MaskStream holds back only the bytes that could still be the start of a secret (the DFA
 * state's depth), so a secret split across two chunks is caught, and bytes that match nothing pass
 * through untouched — binary output is never re-encoded.
 */

const MASK = Buffer.from('***');

export interface MaskerOptions {
  /** Lines of a multi-line secret shorter than this (after trimming) are not masked on their own. Default 4. */
  minLineLength?: number;
}

/** The byte patterns masked for a set of secret values. Exported for tests. */
export function maskPatterns(secrets: Iterable<string>, options: MaskerOptions = {}): Buffer[] {
  const minLine = options.minLineLength ?? 4;
  const seen = new Set<string>();
  const out: Buffer[] = [];
  const add = (text: string): void => {
    const data = text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
    for (const form of [text, data, data.replace(/:/g, '%3A').replace(/,/g, '%2C')]) {
      if (form.length === 0 || seen.has(form)) continue;
      seen.add(form);
      out.push(Buffer.from(form, 'utf8'));
    }
  };
  for (const value of secrets) {
    if (value.length === 0) continue;
    add(value);
    if (/[\r\n]/.test(value)) {
      for (const line of value.split(/\r?\n|\r/)) {
        const trimmed = line.trim();
        if (Buffer.byteLength(trimmed) >= minLine) add(trimmed);
      }
    }
    const b64 = Buffer.from(value, 'utf8').toString('base64').replace(/=+$/, '');
    if (b64.length >= minLine) add(b64);
  }
  return out;
}

/** The compiled automaton. Immutable; share it between streams. */
interface Automaton {
  /** byte → class (0: a byte that occurs in no pattern). */
  classes: Uint8Array;
  classCount: number;
  /** delta[row + class] → next row (row = state * classCount), or -row - 1 when a pattern ends there. */
  delta: Int32Array;
  /** By state: length of the longest pattern ending in this state (0: none). */
  matchLength: Int32Array;
  /** By state: length of the string the state stands for, i.e. bytes that may still start a match. */
  depth: Int32Array;
}

function compile(patterns: Buffer[]): Automaton {
  const classes = new Uint8Array(256);
  let classCount = 1;
  for (const p of patterns) for (const b of p) if (classes[b] === 0) classes[b] = classCount++;
  // Trie with sparse children during construction.
  const children: Array<Map<number, number>> = [new Map()];
  const own: number[] = [0];
  const depthList: number[] = [0];
  for (const p of patterns) {
    let s = 0;
    for (const b of p) {
      const c = classes[b];
      let next = children[s].get(c);
      if (next === undefined) {
        next = children.length;
        children.push(new Map());
        own.push(0);
        depthList.push(depthList[s] + 1);
        children[s].set(c, next);
      }
      s = next;
    }
    own[s] = Math.max(own[s], p.length);
  }
  const n = children.length;
  const delta = new Int32Array(n * classCount);
  const fail = new Int32Array(n);
  const matchLength = new Int32Array(n);
  const depth = Int32Array.from(depthList);
  // BFS: fill the DFA row of each state from its failure state's (already complete) row.
  const queue: number[] = [];
  for (let c = 1; c < classCount; c++) {
    const next = children[0].get(c);
    if (next !== undefined) {
      delta[c] = next;
      fail[next] = 0;
      queue.push(next);
    }
  }
  matchLength[0] = own[0];
  for (let head = 0; head < queue.length; head++) {
    const s = queue[head];
    matchLength[s] = Math.max(own[s], matchLength[fail[s]]);
    const row = s * classCount;
    const failRow = fail[s] * classCount;
    for (let c = 0; c < classCount; c++) {
      const next = children[s].get(c);
      if (next !== undefined) {
        delta[row + c] = next;
        fail[next] = delta[failRow + c];
        queue.push(next);
      } else {
        delta[row + c] = delta[failRow + c];
      }
    }
  }
  for (let i = 0; i < delta.length; i++) {
    const next = delta[i];
    delta[i] = matchLength[next] !== 0 ? -(next * classCount) - 1 : next * classCount;
  }
  return { classes, classCount, delta, matchLength, depth };
}

export class SecretMasker {
  private readonly automaton: Automaton | undefined;
  private readonly values: readonly string[];
  readonly patternCount: number;

  constructor(secrets: Iterable<string>, private readonly options: MaskerOptions = {}) {
    this.values = [...secrets];
    const patterns = maskPatterns(this.values, options);
    this.patternCount = patterns.length;
    this.automaton = patterns.length > 0 ? compile(patterns) : undefined;
  }

  /** A masker for these secrets and `more` values (the same options); this one is unchanged. */
  including(more: Iterable<string>): SecretMasker {
    return new SecretMasker([...this.values, ...more], this.options);
  }

  /** A masking stream for one output stream (stdout and stderr each need their own). */
  createStream(): MaskStream {
    return new MaskStream(this.automaton);
  }

  /** Masks a complete buffer. */
  maskBuffer(data: Buffer): Buffer {
    if (!this.automaton) return data;
    const s = this.createStream();
    const head = s.write(data);
    const tail = s.end();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  }

  /** Masks a complete string (system lines, error messages). */
  maskString(text: string): string {
    if (!this.automaton) return text;
    return this.maskBuffer(Buffer.from(text, 'utf8')).toString('utf8');
  }
}

/**
 * Streaming masker: write() returns the bytes that are final (possibly fewer than written: a
 * possible secret prefix is held back), end() returns the rest. Output concatenated equals the
 * input with every match replaced by `***`.
 */
export class MaskStream {
  private state = 0;
  /** Bytes received but not yet returned; they start at absolute offset `pendingStart`. */
  private pending: Buffer = Buffer.alloc(0);
  private pendingStart = 0;
  private received = 0;
  /** Merged match intervals [start, end) in absolute offsets, not yet returned, sorted. */
  private intervals: number[] = [];

  constructor(private readonly automaton: Automaton | undefined) {}

  write(chunk: Buffer): Buffer {
    const a = this.automaton;
    if (!a) return chunk;
    const { classes, classCount, delta, matchLength } = a;
    const base = this.received;
    // States are row offsets into delta (state * classCount): one add per byte instead of a
    // multiply; a negative entry (-row - 1) marks a state where a pattern ends.
    let row = this.state;
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    const length = bytes.length;
    for (let i = 0; i < length; i++) {
      row = delta[row + classes[bytes[i]]];
      if (row < 0) {
        row = -row - 1;
        const m = matchLength[row / classCount];
        this.addInterval(base + i + 1 - m, base + i + 1);
      }
    }
    this.state = row;
    this.received = base + length;
    const data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let boundary = this.received - a.depth[row / a.classCount];
    const iv = this.intervals;
    // Intervals reaching into the held-back zone may still grow: keep them whole.
    for (let k = iv.length - 2; k >= 0 && iv[k + 1] >= boundary; k -= 2) boundary = Math.min(boundary, iv[k]);
    return this.emit(data, boundary);
  }

  end(): Buffer {
    if (!this.automaton) return Buffer.alloc(0);
    const out = this.emit(this.pending, this.received);
    this.state = 0;
    return out;
  }

  private addInterval(start: number, end: number): void {
    const iv = this.intervals;
    while (iv.length > 0 && iv[iv.length - 1] >= start) {
      end = Math.max(end, iv[iv.length - 1]);
      start = Math.min(start, iv[iv.length - 2]);
      iv.length -= 2;
    }
    iv.push(start, end);
  }

  /** Returns data[pendingStart, boundary) with closed intervals masked; keeps the rest pending. */
  private emit(data: Buffer, boundary: number): Buffer {
    const origin = this.pendingStart;
    if (boundary <= origin) {
      this.pending = data;
      return Buffer.alloc(0);
    }
    const iv = this.intervals;
    let out: Buffer;
    let used = 0;
    if (iv.length === 0 || iv[0] >= boundary) {
      out = data.subarray(0, boundary - origin);
    } else {
      const parts: Buffer[] = [];
      let cursor = origin;
      while (used < iv.length && iv[used + 1] <= boundary) {
        if (iv[used] > cursor) parts.push(data.subarray(cursor - origin, iv[used] - origin));
        parts.push(MASK);
        cursor = iv[used + 1];
        used += 2;
      }
      if (boundary > cursor) parts.push(data.subarray(cursor - origin, boundary - origin));
      out = Buffer.concat(parts);
    }
    if (used > 0) this.intervals = iv.slice(used);
    // Copy the small held-back tail so the caller's (possibly large) chunk can be collected.
    this.pending = Buffer.from(data.subarray(boundary - origin));
    this.pendingStart = boundary;
    return out;
  }
}
