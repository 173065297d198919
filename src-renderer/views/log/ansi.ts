/**
 * A small ANSI SGR parser for log lines: colours (16, 256 and 24-bit), bold, dim, italic, underline,
 * inverse. Other escape sequences (cursor moves, OSC titles and links) are removed.
 *
 * Why not a package: `anser` and friends return HTML strings (we would then need
 * dangerouslySetInnerHTML and an escaping audit) or generic JSON we would re-map anyway; this is ~100
 * lines, returns plain segments React renders as text (no injection possible), and it is fast enough
 * to run per visible row. Each line is parsed on its own: a virtual list renders rows independently,
 * and CI tools reset attributes at the end of a line in practice.
 */
export interface AnsiStyle {
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
}

export interface AnsiSegment {
  text: string;
  style: AnsiStyle;
}

/** The 16 base colours, readable on the log viewer's dark background. */
export const BASE_COLOURS = [
  '#3b4252', '#f06a6a', '#7bd88f', '#e5c07b', '#61afef', '#c678dd', '#56b6c2', '#d0d5dc',
  '#6b7385', '#ff8787', '#9ef0ae', '#ffd98e', '#8cc8ff', '#e0a4f5', '#7fd9e3', '#ffffff',
] as const;

function xterm256(n: number): string | undefined {
  if (!Number.isInteger(n) || n < 0 || n > 255) return undefined;
  if (n < 16) return BASE_COLOURS[n];
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v},${v},${v})`;
  }
  const i = n - 16;
  const level = (x: number): number => (x === 0 ? 0 : 55 + x * 40);
  return `rgb(${level(Math.floor(i / 36))},${level(Math.floor(i / 6) % 6)},${level(i % 6)})`;
}

// CSI sequences (ESC [ params final), OSC sequences (ESC ] … BEL or ESC \), and lone two-byte escapes.
const ESCAPES = /\x1b\[([0-9;:?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]/g;

/** True when the text has an escape character at all: lets the common plain line skip parsing. */
export function hasAnsi(text: string): boolean {
  return text.includes('\x1b');
}

function applySgr(style: AnsiStyle, params: string): AnsiStyle {
  const codes = params === '' ? [0] : params.split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)));
  let s: AnsiStyle = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) s = {};
    else if (c === 1) s.bold = true;
    else if (c === 2) s.dim = true;
    else if (c === 3) s.italic = true;
    else if (c === 4) s.underline = true;
    else if (c === 7) s.inverse = true;
    else if (c === 22) { s.bold = false; s.dim = false; }
    else if (c === 23) s.italic = false;
    else if (c === 24) s.underline = false;
    else if (c === 27) s.inverse = false;
    else if (c >= 30 && c <= 37) s.fg = BASE_COLOURS[c - 30];
    else if (c === 39) delete s.fg;
    else if (c >= 40 && c <= 47) s.bg = BASE_COLOURS[c - 40];
    else if (c === 49) delete s.bg;
    else if (c >= 90 && c <= 97) s.fg = BASE_COLOURS[c - 90 + 8];
    else if (c >= 100 && c <= 107) s.bg = BASE_COLOURS[c - 100 + 8];
    else if (c === 38 || c === 48) {
      const key = c === 38 ? 'fg' : 'bg';
      let colour: string | undefined;
      if (codes[i + 1] === 5) {
        colour = xterm256(codes[i + 2]);
        i += 2;
      } else if (codes[i + 1] === 2) {
        const [r, g, b] = [codes[i + 2], codes[i + 3], codes[i + 4]];
        if ([r, g, b].every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) colour = `rgb(${r},${g},${b})`;
        i += 4;
      }
      if (colour) s[key] = colour;
    }
  }
  return s;
}

/** Splits a line into styled segments; text outside escapes is kept verbatim. */
export function parseAnsi(text: string): AnsiSegment[] {
  if (!hasAnsi(text)) return text ? [{ text, style: {} }] : [];
  const out: AnsiSegment[] = [];
  let style: AnsiStyle = {};
  let last = 0;
  ESCAPES.lastIndex = 0;
  for (let m = ESCAPES.exec(text); m; m = ESCAPES.exec(text)) {
    if (m.index > last) out.push({ text: text.slice(last, m.index), style });
    if (m[2] === 'm') style = applySgr(style, m[1] ?? '');
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last), style });
  return out.filter((seg) => seg.text.length > 0);
}

/** The text a user sees (and searches): escapes removed. */
export function stripAnsi(text: string): string {
  return hasAnsi(text) ? text.replace(ESCAPES, '') : text;
}
