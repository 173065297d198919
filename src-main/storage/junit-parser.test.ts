import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { junitReader, parseJunit, secondsToMs } from './junit-parser.js';
import { totalsOf } from './test-report-store.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'reports', 'fixtures');
const fixture = (path: string) => parseJunit(path, readFileSync(join(FIXTURES, path)));

describe('reading JUnit XML written by other tools (test/reports/fixtures)', () => {
  it('reads jest-junit: failures without a message attribute take the first line of their text', () => {
    const { cases, problem } = fixture('jest/jest-junit.xml');
    expect(problem).toBeUndefined();
    expect(totalsOf(cases)).toMatchObject({ tests: 6, passed: 1, failed: 4, errored: 0, skipped: 1 });
    const failing = cases.find((c) => c.name === 'Test 1 Test 1.1 Failing test');
    expect(failing).toMatchObject({ suite: 'Test 1', status: 'failed', message: 'Error: expect(received).toBeTruthy()', durationMs: 1 });
    expect(failing?.output).toContain('at new Promise (<anonymous>)');
    expect(cases.find((c) => c.name === ' Skipped test')).toMatchObject({ status: 'skipped', suite: 'undefined' });
  });

  it('reads gotestsum: packages as suites, Failed messages with the test output, an empty package', () => {
    const { cases, problem } = fixture('gotestsum/junitxml-report.xml');
    expect(problem).toBeUndefined();
    expect(totalsOf(cases)).toMatchObject({ tests: 47, passed: 38, failed: 5, skipped: 4, errored: 0 });
    const failed = cases.find((c) => c.name === 'TestFailedWithStderr');
    expect(failed).toMatchObject({ status: 'failed', message: 'Failed', suite: 'github.com/gotestyourself/gotestyourself/testjson/internal/stub' });
    expect(failed?.output).toContain('this is stderr');
    expect(cases.find((c) => c.name === 'TestParallelTheFirst')?.durationMs).toBe(10);
  });

  it('reads Maven Surefire: an error is errored, with its message and the stack as output', () => {
    const { cases, problem } = fixture('surefire/TEST-surefire.MyTest.xml');
    expect(problem).toBeUndefined();
    expect(cases).toHaveLength(1);
    expect(cases[0]).toMatchObject({ suite: 'surefire.MyTest', classname: 'surefire.MyTest', name: 'test', status: 'errored', message: 'this is different message', durationMs: 100 });
    expect(cases[0].output).toMatch(/^java\.lang\.RuntimeException: java\.lang\.IndexOutOfBoundsException\n\tat surefire\.MyTest/);
  });

  it('reports a truncated pytest file as FILE:LINE:COL (where the text ends) with no cases', () => {
    const { cases, problem } = fixture('pytest/corrupt-xml.xml');
    expect(cases).toEqual([]);
    expect(problem).toMatch(/^pytest\/corrupt-xml\.xml:11:\d+: unclosed tag: skipped$/);
  });
});

describe('the streaming reader', () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="größe"><testcase classname="ü.Test" name="zählt → ✓" time="1,234.5"><failure message="erwartet ✓">Stapel ☃</failure></testcase>
<testcase classname="ü.Test" name="zwei" time="0.25"><system-out>nur Ausgabe</system-out></testcase></testsuite></testsuites>`;

  it('gives the same cases when the bytes arrive one at a time (multi-byte characters split across chunks)', () => {
    const reader = junitReader('r.xml');
    for (const b of Buffer.from(xml)) reader.write(Buffer.from([b]));
    expect(reader.end()).toEqual(parseJunit('r.xml', xml));
    expect(parseJunit('r.xml', xml).cases).toEqual([
      { suite: 'größe', classname: 'ü.Test', name: 'zählt → ✓', status: 'failed', durationMs: 1_234_500, message: 'erwartet ✓', output: 'Stapel ☃' },
      { suite: 'größe', classname: 'ü.Test', name: 'zwei', status: 'passed', durationMs: 250 },
    ]);
  });

  it('reads a multi-megabyte chunk (as node-tar delivers them) like the same bytes in small ones, and places a late error on its line', () => {
    // Odd-length multi-byte names: the reader's fixed-size pieces split characters at many points.
    const many = Array.from({ length: 20_000 }, (_, i) =>
      `<testcase classname="ü.Größe${i % 7}" name="zählt ${i} → ✓${'☃'.repeat(i % 5)}" time="0.0${i % 9}">${i % 50 === 3 ? `<failure message="erwartet ✓ ${i}">Stapel ☃ ${i}</failure>` : ''}</testcase>`);
    const big = Buffer.from(`<testsuites><testsuite name="größe">\n${many.join('\n')}\n</testsuite></testsuites>`);
    expect(big.length).toBeGreaterThan(1_800_000);
    const inSmall = junitReader('r.xml');
    for (let at = 0; at < big.length; at += 1000) inSmall.write(big.subarray(at, at + 1000));
    const whole = parseJunit('r.xml', big);
    expect(whole).toEqual(inSmall.end());
    expect(whole.cases).toHaveLength(20_000);
    expect(whole.cases[19_999]).toEqual({ suite: 'größe', classname: 'ü.Größe0', name: 'zählt 19999 → ✓☃☃☃☃', status: 'passed', durationMs: 10 });
    expect(whole.cases[4003]).toMatchObject({ classname: 'ü.Größe6', status: 'failed', message: 'erwartet ✓ 4003', output: 'Stapel ☃ 4003' });
    const broken = `<testsuites><testsuite name="größe">\n${many.join('\n')}\n</testcase></testsuites>`;
    expect(parseJunit('r.xml', broken).problem).toMatch(/^r\.xml:20002:\d+: unexpected close tag/);
  });

  it('does not keep a 16 MB chunk alive through the names it keeps (the heap holds cases, not the chunk)', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const body = Array.from({ length: 30_000 }, (_, i) => `<testcase classname="shop.Cart${i % 3}" name="case ${i}"><system-out>${'x'.repeat(500)}</system-out></testcase>`);
    let chunk: Buffer | undefined = Buffer.from(`<testsuites><testsuite name="shop">${body.join('\n')}`);
    expect(chunk.length).toBeGreaterThan(16_000_000);
    gc();
    const before = process.memoryUsage().heapUsed;
    const reader = junitReader('big.xml', undefined, () => undefined);
    reader.write(chunk);
    chunk = undefined;
    gc();
    // The reader, mid-file, still holds its suite and class names; the decoded chunk must not stay with them.
    expect((process.memoryUsage().heapUsed - before) / 1e6).toBeLessThan(5);
    reader.write(Buffer.from('<testcase name="last"/></testsuite></testsuites>'));
    expect(reader.end()).toEqual({ cases: [] });
  });

  it('keeps a bounded head of a huge failure output and says how much was left out', () => {
    const big = 'x'.repeat(100_000);
    const { cases } = parseJunit('big.xml', `<testsuite><testcase name="a"><failure message="${'m'.repeat(5000)}">${big}</failure><system-err>${big}</system-err></testcase></testsuite>`, { maxMessageChars: 100, maxOutputChars: 1000 });
    expect(cases[0].message).toHaveLength(100);
    expect(cases[0].output?.startsWith('x'.repeat(1000))).toBe(true);
    expect(cases[0].output).toMatch(/\n… \(199,\d{3} more characters not kept\)$/);
  });

  it.each([
    ['an HTML page', '<html><body>502</body></html>', /^f\.xml:1:6: the root element is <html>, not <testsuites> or <testsuite>/],
    ['an empty file', '', /^f\.xml:1:\d+: /],
    ['a mismatched close tag', '<testsuite>\n<testcase name="a">\n</testsuite>', /^f\.xml:3:\d+: unexpected close tag/],
    ['text after the root', '<testsuite/>junk', /^f\.xml:1:\d+: text data outside of root node/],
  ])('refuses %s with the file, line and reason', (_what, text, problem) => {
    const out = parseJunit('f.xml', text);
    expect(out.cases).toEqual([]);
    expect(out.problem).toMatch(problem);
  });

  it.each([
    ['0.5', 500], ['1,234.5', 1_234_500], ['', undefined], ['abc', undefined], ['-1', undefined], [undefined, undefined],
  ])('reads time="%s" as %s ms', (text, ms) => {
    expect(secondsToMs(text)).toBe(ms);
  });
});
