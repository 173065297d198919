import { describe, expect, it } from 'vitest';
import { parseEnvFile } from './env-file.js';

describe('parseEnvFile', () => {
  const cases: Array<{ name: string; text: string; vars: Record<string, string>; problems?: RegExp[] }> = [
    { name: 'reads KEY=value lines', text: 'A=1\nB=two words\n', vars: { A: '1', B: 'two words' } },
    { name: 'keeps everything after the first = literally', text: 'URL=postgres://db:5432/x?a=b\nQ="quoted"\n', vars: { URL: 'postgres://db:5432/x?a=b', Q: '"quoted"' } },
    { name: 'allows an empty value', text: 'EMPTY=\n', vars: { EMPTY: '' } },
    { name: 'lets a later assignment win', text: 'A=1\nA=2\n', vars: { A: '2' } },
    { name: 'reads a multi-line value up to its delimiter', text: 'CERT<<EOF\nline 1\nline 2\nEOF\nNEXT=x\n', vars: { CERT: 'line 1\nline 2', NEXT: 'x' } },
    { name: 'reads an empty multi-line value', text: 'E<<END\nEND\n', vars: { E: '' } },
    { name: 'does not end a multi-line value at a line that only contains the delimiter', text: 'M<<EOF\nEOF2\n EOF\nEOF\n', vars: { M: 'EOF2\n EOF' } },
    { name: 'accepts CRLF line ends', text: 'A=1\r\nB<<X\r\nv\r\nX\r\n', vars: { A: '1', B: 'v' } },
    { name: 'skips blank lines', text: '\n\nA=1\n\n', vars: { A: '1' } },
    { name: 'treats = before << as a plain assignment', text: 'A=x<<y\n', vars: { A: 'x<<y' } },
    { name: 'reports an unterminated multi-line value', text: 'A=1\nB<<EOF\nnever closed\n', vars: { A: '1' }, problems: [/no closing 'EOF' for B/] },
    { name: 'reports an invalid name', text: '1BAD=x\nOK=y\n', vars: { OK: 'y' }, problems: [/'1BAD' is not a valid variable name/] },
    { name: 'reports a line without = or <<', text: 'just text\n', vars: {}, problems: [/expected KEY=value/] },
    { name: 'refuses to override Kiln’s own file locations', text: 'KILN_ENV=/etc/passwd\n', vars: {}, problems: [/KILN_ENV is set by Kiln/] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = parseEnvFile(c.text);
      expect(result.vars).toEqual(c.vars);
      expect(result.problems).toHaveLength(c.problems?.length ?? 0);
      c.problems?.forEach((re, i) => expect(result.problems[i]).toMatch(re));
    });
  }
});
