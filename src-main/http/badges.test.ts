import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BADGE_COLORS, badgeStateOf, escapeXml, etagMatches, renderBadge, textWidth } from './badges.js';
import { FIXTURES } from '../../test/helpers/fixtures.js';

const fixture = (name: string): string => readFileSync(`${FIXTURES}/badges/${name}`, 'utf8');
const attrs = (svg: string, re: RegExp): string[] => [...svg.matchAll(re)].map((m) => m[1]);

describe('flat badges', () => {
  it('measures text like shields (Verdana 11px, rounded up to odd)', () => {
    expect(textWidth('build')).toBe(27);
    expect(textWidth('passing')).toBe(41);
    expect(textWidth('failing')).toBe(33);
  });

  it.each([
    ['passing', 'build-passing.flat.v5.svg'],
    ['failing', 'build-failing.flat.v5.svg'],
  ])('renders "build | %s" with shields\' geometry and colours', (state, file) => {
    const ours = renderBadge('build', state, BADGE_COLORS[state as 'passing' | 'failing']);
    const theirs = fixture(file);
    for (const re of [/<svg[^>]* width="(\d+)"/g, /<rect[^>]* width="(\d+)"/g, /<rect[^>]*x="(\d+)"/g, / fill="(#[0-9a-f]+)"/g, /<text[^>]* x="(\d+)"/g, /textLength="(\d+)"/g]) {
      expect(attrs(ours, re)).toEqual(attrs(theirs, re));
    }
  });

  it('matches the shields v5 "build | failing" badge byte for byte', () => {
    expect(renderBadge('build', 'failing', '#e05d44')).toBe(fixture('build-failing.flat.v5.svg'));
  });

  it('escapes every piece of text, so a branch named <script> cannot inject markup', () => {
    const svg = renderBadge('<script>alert(1)</script>', 'a"b\'c&d', '#4c1');
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(svg).toContain('a&quot;b&apos;c&amp;d');
    expect(escapeXml('\u0001ok')).toBe('ok');
  });

  it('maps run statuses to badge states', () => {
    expect(badgeStateOf('passed')).toBe('passing');
    expect(badgeStateOf('failed')).toBe('failing');
    expect(badgeStateOf('timed_out')).toBe('failing');
    expect(badgeStateOf('running')).toBe('running');
    expect(badgeStateOf('queued')).toBe('running');
    expect(badgeStateOf(undefined)).toBe('unknown');
  });

  it('compares ETags the way If-None-Match lists them', () => {
    expect(etagMatches('"a", "b"', '"b"')).toBe(true);
    expect(etagMatches('W/"b"', '"b"')).toBe(true);
    expect(etagMatches('"c"', '"b"')).toBe(false);
    expect(etagMatches(undefined, '"b"')).toBe(false);
  });
});
