import type { AnsiSegment, AnsiStyle } from './ansi.js';

export interface MarkedSegment {
  text: string;
  style: AnsiStyle;
  mark: boolean;
}

/** Splits styled segments further so that every case-insensitive occurrence of `query` is marked. */
export function markMatches(segments: readonly AnsiSegment[], query: string): MarkedSegment[] {
  if (!query) return segments.map((s) => ({ ...s, mark: false }));
  const plain = segments.map((s) => s.text).join('');
  const hay = plain.toLowerCase();
  const needle = query.toLowerCase();
  const ranges: Array<[number, number]> = [];
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + needle.length)) ranges.push([i, i + needle.length]);
  if (ranges.length === 0) return segments.map((s) => ({ ...s, mark: false }));
  const out: MarkedSegment[] = [];
  let pos = 0;
  for (const seg of segments) {
    const start = pos;
    const end = pos + seg.text.length;
    let cut = start;
    for (const [a, b] of ranges) {
      if (b <= cut || a >= end) continue;
      const from = Math.max(a, cut);
      const to = Math.min(b, end);
      if (from > cut) out.push({ text: seg.text.slice(cut - start, from - start), style: seg.style, mark: false });
      out.push({ text: seg.text.slice(from - start, to - start), style: seg.style, mark: true });
      cut = to;
    }
    if (cut < end) out.push({ text: seg.text.slice(cut - start), style: seg.style, mark: false });
    pos = end;
  }
  return out;
}
