/**
 * JUnit XML, read as a stream: a report can be tens of megabytes (a 100,000-case suite), so it is
 * never held whole — saxes sees it chunk by chunk and only the cases come out.
 *
 * The "JUnit" that tools write is a family, not a standard. What is read, so that Jest (jest-junit),
 * pytest, Maven Surefire, gotestsum, Vitest and Node's test runner all parse:
 * - the root is <testsuites> or a single <testsuite>; suites nest (Node, Surefire);
 * - a <testcase> is failed when it holds <failure>, errored with <error>, skipped with <skipped>,
 *   else passed; its message is the element's `message` attribute (or its first line of text), its
 *   output the element's text plus the case's <system-out>/<system-err> that follow it (a passing
 *   case's output is not kept);
 * - `time` is seconds, sometimes with thousands separators (Surefire: "1,234.5");
 * - totals are counted from the cases, never taken from the suites' attributes (tools disagree on
 *   whether `tests` counts skipped ones).
 * Text is kept only up to a bound per case, so one case's megabytes of output cost no more memory
 * than a short one. A malformed file stops at its first error, reported as FILE:LINE:COL: reason.
 */
import { StringDecoder } from 'node:string_decoder';
import { SaxesParser, type SaxesTagPlain } from 'saxes';

export type TestStatus = 'passed' | 'failed' | 'errored' | 'skipped';

export interface ParsedCase {
  suite: string;
  classname: string;
  name: string;
  status: TestStatus;
  durationMs?: number;
  message?: string;
  /** Failure text and the case's own output, bounded (a note says when it was cut). */
  output?: string;
}

export interface ParseLimits {
  /** Characters of a failure message kept. Default 1,000. */
  maxMessageChars: number;
  /** Characters of a case's failure text and output kept. Default 16,000. */
  maxOutputChars: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxMessageChars: 1000, maxOutputChars: 16_000 };

/**
 * Bytes decoded and handed to saxes at a time. The names and texts saxes gives out are slices of the
 * string it was written, and a slice keeps that whole string alive; an archive stream can deliver
 * chunks of many megabytes (node-tar reads files 16 MB at a time), and each kept name then held
 * 16 MB of heap. Small pieces bound what a kept slice can hold.
 */
const DECODE_BYTES = 64 * 1024;

export interface JunitReader {
  /** Feeds the next bytes of the file. A no-op once the file is known to be malformed. */
  write(chunk: Buffer): void;
  /** Ends the file: the cases read, or the first problem as `FILE:LINE:COL: reason`. */
  end(): { cases: ParsedCase[]; problem?: string };
}

const OUTCOMES: Record<string, TestStatus> = { failure: 'failed', error: 'errored', skipped: 'skipped' };

/** Seconds as tools write them ("0.5", "1,234.5", "") → milliseconds; undefined when not a number. */
export function secondsToMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.replace(/,/g, '').trim());
  return text.trim() !== '' && Number.isFinite(n) && n >= 0 ? Math.round(n * 1000 * 1000) / 1000 : undefined;
}

/** Appends to a bounded text: past `max` characters, the rest is counted, not kept. */
class Bounded {
  text = '';
  dropped = 0;
  constructor(private readonly max: number) {}
  add(s: string): void {
    const room = this.max - this.text.length;
    if (room >= s.length) this.text += s;
    else {
      if (room > 0) this.text += s.slice(0, room);
      this.dropped += s.length - Math.max(0, room);
    }
  }
  value(): string {
    return this.dropped > 0 ? `${this.text}\n… (${this.dropped.toLocaleString('en')} more characters not kept)` : this.text;
  }
}

interface OpenCase {
  c: ParsedCase;
  out: Bounded;
}

/**
 * A reader for one file; `file` names it in problems (workspace-relative path). With `onCase`, each
 * case is handed over as soon as it closes and none is kept (end() then returns no cases): a large
 * report is stored while it streams instead of held whole.
 */
export function junitReader(file: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS, onCase?: (c: ParsedCase) => void): JunitReader {
  const parser = new SaxesParser<{ fileName: string; position: true; xmlns: false }>({ fileName: file, position: true, xmlns: false });
  const decoder = new StringDecoder('utf8');
  const cases: ParsedCase[] = [];
  const suites: string[] = [];
  let problem: string | undefined;
  let rootSeen = false;
  let current: OpenCase | undefined;
  // Inside a case: which child collects text ('failure' | 'system-out' …); undefined = text ignored.
  let collecting: string | undefined;
  let collectedForChild = '';
  let depthInCase = 0;

  // Suite and class names repeat for every case: one copy each, not one per case. The copy kept is
  // a fresh string, not a slice of the chunk it was read from (which it would keep alive).
  const names = new Map<string, string>();
  const intern = (s: string): string => {
    const known = names.get(s);
    if (known !== undefined) return known;
    if (names.size >= 100_000) return s;
    const own = Buffer.from(s, 'utf8').toString('utf8');
    names.set(own, own);
    return own;
  };
  const fail = (message: string): void => {
    problem ??= message;
  };
  parser.on('error', (err) => fail(err.message));

  parser.on('opentag', (tag: SaxesTagPlain) => {
    const name = tag.name;
    const attr = tag.attributes;
    if (!rootSeen) {
      rootSeen = true;
      if (name !== 'testsuites' && name !== 'testsuite') {
        fail(`${file}:${parser.line}:${parser.column}: the root element is <${name}>, not <testsuites> or <testsuite>: this is not a JUnit XML report`);
        return;
      }
    }
    if (current) {
      depthInCase++;
      if (depthInCase !== 1) return;
      const outcome = OUTCOMES[name];
      if (outcome) {
        // The first outcome wins (a case with both failure and system-out stays failed).
        if (current.c.status === 'passed') current.c.status = outcome;
        const msg = attr.message ?? '';
        if (msg !== '' && current.c.message === undefined) current.c.message = msg.slice(0, limits.maxMessageChars);
        if (outcome !== 'skipped') {
          if (attr.type && current.c.message === undefined) current.c.message = attr.type.slice(0, limits.maxMessageChars);
          collecting = name;
          collectedForChild = '';
        }
      } else if (name === 'system-out' || name === 'system-err') {
        collecting = name;
        collectedForChild = '';
      }
      return;
    }
    if (name === 'testsuite' || name === 'testsuites') {
      suites.push(intern(attr.name ?? ''));
    } else if (name === 'testcase') {
      const suite = suites.filter((s) => s !== '').at(-1) ?? '';
      const c: ParsedCase = { suite, classname: intern(attr.classname ?? attr.class ?? ''), name: attr.name ?? '', status: 'passed' };
      const ms = secondsToMs(attr.time);
      if (ms !== undefined) c.durationMs = ms;
      current = { c, out: new Bounded(limits.maxOutputChars) };
      depthInCase = 0;
    }
  });

  const onText = (text: string): void => {
    // Output is kept for failed and errored cases only (their failure comes first, as every tool
    // writes it): a passing case's output is never read, and collecting it cost most of the time.
    if (!current || collecting === undefined || current.c.status === 'passed' || current.c.status === 'skipped') return;
    // Only the head of a failure's text is needed for the message; the rest goes to the bounded output.
    if (OUTCOMES[collecting] && collectedForChild.length < 400) collectedForChild += text.slice(0, 400);
    if (current.out.text.length === 0 && current.out.dropped === 0 && text.trim() === '') return;
    if (collecting === 'system-out' || collecting === 'system-err') {
      if (current.out.text.length === 0 && current.out.dropped === 0) current.out.add(`[${collecting}]\n`);
    }
    current.out.add(text);
  };
  parser.on('text', onText);
  parser.on('cdata', onText);

  parser.on('closetag', (tag) => {
    if (current) {
      if (depthInCase > 0) {
        if (depthInCase === 1 && collecting !== undefined) {
          if (OUTCOMES[collecting] && current.c.message === undefined) {
            const first = collectedForChild.trim().split('\n')[0]?.trim();
            if (first) current.c.message = first.slice(0, limits.maxMessageChars);
          }
          collecting = undefined;
          if (current.out.text !== '' && !current.out.text.endsWith('\n')) current.out.add('\n');
        }
        depthInCase--;
        return;
      }
      if (tag.name === 'testcase') {
        const output = current.out.value().trim();
        if (output !== '' && current.c.status !== 'passed' && current.c.status !== 'skipped') current.c.output = output;
        if (onCase && problem === undefined) onCase(current.c);
        else if (!onCase) cases.push(current.c);
        current = undefined;
      }
      return;
    }
    if (tag.name === 'testsuite' || tag.name === 'testsuites') suites.pop();
  });

  return {
    write(chunk) {
      for (let at = 0; at < chunk.length && problem === undefined; at += DECODE_BYTES) {
        parser.write(decoder.write(chunk.subarray(at, at + DECODE_BYTES)));
      }
    },
    end() {
      if (problem === undefined) {
        const rest = decoder.end();
        if (rest) parser.write(rest);
        if (problem === undefined) parser.close();
      }
      if (problem === undefined && !rootSeen) problem = `${file}:1:1: the file is empty: no JUnit XML in it`;
      return problem === undefined ? { cases } : { cases: [], problem };
    },
  };
}

/** Parses a whole JUnit XML text (tests, and reports produced outside a container). */
export function parseJunit(file: string, xml: string | Buffer, limits?: ParseLimits): { cases: ParsedCase[]; problem?: string } {
  const reader = junitReader(file, limits);
  reader.write(typeof xml === 'string' ? Buffer.from(xml) : xml);
  return reader.end();
}
