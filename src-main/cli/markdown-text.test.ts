import { describe, expect, it } from 'vitest';
import { markdownToText, stripControls } from './markdown-text.js';

describe('a job summary as terminal text', () => {
  it('turns headings, paragraphs, links and inline code into plain lines', () => {
    expect(markdownToText('# Coverage: 87 %\n\nSome *text* with `code` and a [link](https://example.com).\nSame paragraph.')).toEqual([
      'Coverage: 87 %',
      '',
      'Some text with `code` and a link (https://example.com). Same paragraph.',
    ]);
  });

  it('aligns a table in columns with a rule under the header', () => {
    expect(markdownToText('| package | lines |\n| --- | ---: |\n| core | 91 % |\n| user-interface | 7 % |')).toEqual([
      'package         lines',
      '--------------  -----',
      'core            91 %',
      'user-interface  7 %',
    ]);
  });

  it('keeps bullets, numbers and nesting, quotes and indented code', () => {
    expect(markdownToText('- one\n- two\n  - nested\n\n1. first\n2. second\n\n> quoted\n> more\n\n```\ncode\n  indented\n```\n')).toEqual([
      '- one',
      '- two',
      '  - nested',
      '',
      '1. first',
      '2. second',
      '',
      '> quoted more',
      '',
      '    code',
      '      indented',
    ]);
  });

  it('shows raw HTML as text and images as their alt text and address', () => {
    expect(markdownToText('<script>alert(1)</script>\n\n![chart](https://x.test/c.png) ![inline](data:image/png;base64,AAAA)')).toEqual([
      '<script>alert(1)</script>',
      '',
      '[image: chart] (https://x.test/c.png) [image: inline]',
    ]);
  });

  it('drops escape sequences and other control characters, in text, code and tables', () => {
    const lines = markdownToText('red \x1b[31mtext\x07\n\n```\n\x1b]0;title\x07code\n```\n\n| a |\n| - |\n| \x1b[2Jb |');
    expect(lines.join('\n')).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(lines).toContain('red [31mtext');
    expect(stripControls('a\x1bb\tc\nd\x9be')).toBe('ab\tc\nde');
  });

  it('styles headings and table headers with the given style only', () => {
    const style = { strong: (t: string) => `<${t}>` };
    expect(markdownToText('## Title\n\n| h |\n| - |\n| v |', style)).toEqual(['<Title>', '', '<h>', '-', 'v']);
  });
});
