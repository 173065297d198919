import { describe, expect, it } from 'vitest';
import { ASCII_LOWERING } from './log-search.js';

// The byte-level scan for ASCII queries rests on two facts about JavaScript's case mapping; if a
// future Unicode version changes them, these tests say so before a search silently misses a line.
describe('the case-mapping facts the ASCII log scan relies on', () => {
  it('lists every non-ASCII character whose lowercase contains ASCII', () => {
    const found: string[] = [];
    for (let c = 0x80; c <= 0x10ffff; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const ch = String.fromCodePoint(c);
      if (/[\x00-\x7f]/.test(ch.toLowerCase())) found.push(ch);
    }
    expect(found).toEqual(ASCII_LOWERING);
  });

  it('never folds a latin1 character above 127 onto ASCII in a case-insensitive regexp', () => {
    for (let a = 0; a < 0x80; a++) {
      const re = new RegExp(String.fromCharCode(a).replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&'), 'i');
      for (let b = 0x80; b <= 0xff; b++) expect(re.test(String.fromCharCode(b)), `${a} ~ ${b}`).toBe(false);
    }
  });

  it('matches ASCII case-insensitively exactly as toLowerCase does', () => {
    for (let a = 0; a < 0x80; a++) {
      const re = new RegExp(String.fromCharCode(a).toLowerCase().replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&'), 'i');
      for (let b = 0; b < 0x80; b++) {
        const ch = String.fromCharCode(b);
        expect(re.test(ch), `${a} ~ ${b}`).toBe(ch.toLowerCase() === String.fromCharCode(a).toLowerCase());
      }
    }
  });
});
