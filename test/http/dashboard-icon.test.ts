import { readFileSync } from 'node:fs';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';

// Without an icon link a browser asks for /favicon.ico, which the server answers with 404 and the
// console shows as an error on every dashboard load.
describe('the dashboard page icon', () => {
  const html = readFileSync(new URL('../../src-renderer/index.html', import.meta.url), 'utf8');

  it('declares an inline SVG icon, so the browser never asks for /favicon.ico', () => {
    const href = /<link rel="icon" type="image\/svg\+xml" href="(data:image\/svg\+xml,[^"]+)"/.exec(html)?.[1];
    expect(href).toBeDefined();
    const svg = decodeURIComponent(href!.slice('data:image/svg+xml,'.length));
    const elements: string[] = [];
    const parser = new SaxesParser();
    parser.on('opentag', (tag) => elements.push(tag.name));
    parser.write(svg).close();
    expect(elements[0]).toBe('svg');
    expect(elements).toContain('path');
  });

  it('is allowed by the page\'s own Content-Security-Policy (img-src data:)', () => {
    expect(/img-src [^;]*\bdata:/.test(html)).toBe(true);
  });
});
