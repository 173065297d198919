import { describe, expect, it } from 'vitest';
import { startupProblemHtml, startupProblemUrl } from './startup-problem.js';

describe('the start-up problem page', () => {
  const problem = { title: 'Kiln cannot start: the configuration has errors', lines: ['/home/ada/kiln.config.yml:3:5: unknown key \'<script>alert(1)</script>\''], hint: 'Fix /home/ada/kiln.config.yml and start Kiln again.' };

  it('lists every problem line and the hint, escaped, with no script allowed', () => {
    const html = startupProblemHtml(problem);
    expect(html).toContain('/home/ada/kiln.config.yml:3:5: unknown key &#39;&#60;script&#62;alert(1)&#60;/script&#62;&#39;');
    expect(html).not.toContain('<script>');
    expect(html).toContain("content=\"default-src 'none'; style-src 'unsafe-inline'\"");
    expect(html).toContain('Fix /home/ada/kiln.config.yml and start Kiln again.');
  });

  it('is a base64 data: URL of that page', () => {
    const url = startupProblemUrl(problem);
    expect(url.startsWith('data:text/html;charset=utf-8;base64,')).toBe(true);
    expect(Buffer.from(url.split(',')[1], 'base64').toString('utf8')).toBe(startupProblemHtml(problem));
  });
});
