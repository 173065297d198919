import { describe, expect, it } from 'vitest';
import { markdownToHtml } from './summary-markdown.js';

// The sanitising half needs a DOM and runs in Chromium (test/e2e/job-records.test.ts); this is the Markdown half.
describe('markdownToHtml', () => {
  it('renders tables, emphasis and links', () => {
    const html = markdownToHtml('| a | b |\n| - | - |\n| **1** | [x](https://example.com) |\n');
    expect(html).toContain('<table>');
    expect(html).toContain('<strong>1</strong>');
    expect(html).toContain('<a href="https://example.com">x</a>');
  });

  it('leaves raw HTML as text, so a <script> in a summary never becomes an element', () => {
    const html = markdownToHtml('hello <script>alert(1)</script> <img src=x onerror=alert(2)>');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;');
  });

  it('refuses javascript: links', () => {
    expect(markdownToHtml('[x](javascript:alert(1))')).not.toContain('href="javascript:');
  });
});
