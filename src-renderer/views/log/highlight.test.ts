import { describe, expect, it } from 'vitest';
import { parseAnsi } from './ansi.js';
import { markMatches } from './highlight.js';

const marked = (text: string, q: string): string => markMatches(parseAnsi(text), q).map((s) => (s.mark ? `[${s.text}]` : s.text)).join('');

describe('markMatches', () => {
  it('marks every case-insensitive occurrence', () => {
    expect(marked('Error: error ERROR', 'error')).toBe('[Error]: [error] [ERROR]');
  });
  it('marks a match that spans two colour segments', () => {
    expect(marked('\x1b[31mfoo\x1b[0mbar', 'ob')).toBe('fo[o][b]ar');
  });
  it('leaves a line without the query alone', () => {
    expect(marked('nothing here', 'zzz')).toBe('nothing here');
  });
});
