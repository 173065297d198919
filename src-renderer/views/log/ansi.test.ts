import { describe, expect, it } from 'vitest';
import { BASE_COLOURS, parseAnsi, stripAnsi } from './ansi.js';

describe('parseAnsi', () => {
  it.each([
    ['plain text stays one unstyled segment', 'hello', [{ text: 'hello', style: {} }]],
    ['a red word then a reset', '\x1b[31mred\x1b[0m plain', [{ text: 'red', style: { fg: BASE_COLOURS[1] } }, { text: ' plain', style: {} }]],
    ['bold bright green', '\x1b[1;92mok', [{ text: 'ok', style: { bold: true, fg: BASE_COLOURS[10] } }]],
    ['a 256-colour foreground', '\x1b[38;5;196mx', [{ text: 'x', style: { fg: 'rgb(255,0,0)' } }]],
    ['a 256-colour grey', '\x1b[38;5;244mx', [{ text: 'x', style: { fg: 'rgb(128,128,128)' } }]],
    ['a truecolor background', '\x1b[48;2;1;2;3mx', [{ text: 'x', style: { bg: 'rgb(1,2,3)' } }]],
    ['ESC[m as a reset', '\x1b[4mu\x1b[mv', [{ text: 'u', style: { underline: true } }, { text: 'v', style: {} }]],
    ['default foreground (39) keeps bold', '\x1b[1;31ma\x1b[39mb', [{ text: 'a', style: { bold: true, fg: BASE_COLOURS[1] } }, { text: 'b', style: { bold: true } }]],
    ['cursor moves are dropped', 'a\x1b[2Kb\x1b[1Gc', [{ text: 'a', style: {} }, { text: 'b', style: {} }, { text: 'c', style: {} }]],
    ['an OSC hyperlink is dropped, its text kept', '\x1b]8;;http://x\x07link\x1b]8;;\x07', [{ text: 'link', style: {} }]],
  ])('%s', (_name, input, expected) => {
    expect(parseAnsi(input)).toEqual(expected);
  });

  it('ignores an out-of-range 256-colour index instead of inventing a colour', () => {
    expect(parseAnsi('\x1b[38;5;999mx')).toEqual([{ text: 'x', style: {} }]);
  });
});

describe('stripAnsi', () => {
  it('returns the visible text only', () => {
    expect(stripAnsi('\x1b[1m\x1b[32m✓\x1b[0m 12 tests passed')).toBe('✓ 12 tests passed');
  });
});
