import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { maskPatterns, SecretMasker } from './secret-masker.js';

/** Feeds `input` to a fresh stream in chunks of the given sizes (cycled) and returns the output. */
function maskInChunks(masker: SecretMasker, input: Buffer, sizes: number[]): Buffer {
  const stream = masker.createStream();
  const out: Buffer[] = [];
  let pos = 0;
  for (let i = 0; pos < input.length; i++) {
    const size = sizes[i % sizes.length];
    out.push(stream.write(input.subarray(pos, pos + size)));
    pos += size;
  }
  out.push(stream.end());
  return Buffer.concat(out);
}

/** Reference: mark every byte covered by any pattern occurrence, then collapse runs into `***`. */
function referenceMask(patterns: Buffer[], input: Buffer): Buffer {
  const covered = new Uint8Array(input.length + 1);
  const ends = new Int32Array(input.length + 1).fill(-1);
  for (const p of patterns) {
    for (let at = input.indexOf(p); at !== -1; at = input.indexOf(p, at + 1)) {
      for (let k = at; k < at + p.length; k++) covered[k] = 1;
      ends[at] = Math.max(ends[at], at + p.length);
    }
  }
  // Runs of covered bytes that touch (overlap or are adjacent through a match) become one mask.
  const out: number[] = [];
  let i = 0;
  while (i < input.length) {
    if (!covered[i]) {
      out.push(input[i]);
      i++;
      continue;
    }
    while (i < input.length && covered[i]) i++;
    out.push(...Buffer.from('***'));
  }
  return Buffer.from(out);
}

describe('SecretMasker', () => {
  const cases: Array<{ name: string; secrets: string[]; input: string; expected: string; min?: number }> = [
    { name: 'masks every occurrence of a value', secrets: ['hunter2'], input: 'a hunter2 b hunter2', expected: 'a *** b ***' },
    { name: 'leaves text without secrets untouched', secrets: ['hunter2'], input: 'nothing here\n', expected: 'nothing here\n' },
    { name: 'masks several secrets', secrets: ['alpha-1', 'beta-22'], input: 'x=alpha-1 y=beta-22', expected: 'x=*** y=***' },
    { name: 'masks overlapping secrets as one run', secrets: ['abcdef', 'defxyz'], input: '[abcdefxyz]', expected: '[***]' },
    { name: 'masks a secret contained in another', secrets: ['token', 'mytokenvalue'], input: 'mytokenvalue token', expected: '*** ***' },
    { name: 'masks the base64 form', secrets: ['s3cr3t-val'], input: `b64=${Buffer.from('s3cr3t-val').toString('base64')}`, expected: 'b64=***==' },
    {
      name: 'masks each long line of a multi-line secret separately',
      secrets: ['{\n  "key": "PRIVATE-abc"\n}'],
      input: 'line: "key": "PRIVATE-abc"\n{\n}\n',
      expected: 'line: ***\n{\n}\n',
    },
    {
      name: 'does not mask short lines of a multi-line secret',
      secrets: ['ab\nlonger-line'],
      input: 'ab ab longer-line',
      expected: 'ab ab ***',
    },
    { name: 'masks multi-byte UTF-8 secrets', secrets: ['pässwörd'], input: 'x pässwörd y', expected: 'x *** y' },
    { name: 'ignores empty secrets', secrets: ['', 'abc'], input: 'abc', expected: '***' },
    {
      name: 'masks a secret escaped in a workflow command message, which is unescaped after masking',
      secrets: ['p%ss-w0rd'],
      input: '::error::key p%25ss-w0rd',
      expected: '::error::key ***',
    },
    {
      name: 'masks a secret escaped in a workflow command property',
      secrets: ['user:pa%ss,1'],
      input: '::error title=user%3Apa%25ss%2C1::x',
      expected: '::error title=***::x',
    },
    {
      name: 'masks a multi-line secret written as one escaped line',
      secrets: ['ab\ncd'],
      input: '::warning::ab%0Acd',
      expected: '::warning::***',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const masker = new SecretMasker(c.secrets, { minLineLength: c.min });
      expect(masker.maskString(c.input)).toBe(c.expected);
    });
  }

  it('masks a secret split across chunks at every possible split point', () => {
    const secret = 'split-me-secret';
    const masker = new SecretMasker([secret]);
    const input = Buffer.from(`before ${secret} after ${secret}`);
    for (let size = 1; size <= input.length; size++) {
      expect(maskInChunks(masker, input, [size]).toString()).toBe('before *** after ***');
    }
  });

  it('never returns a byte that could still start a secret', () => {
    const masker = new SecretMasker(['password123']);
    const stream = masker.createStream();
    expect(stream.write(Buffer.from('log line pass')).toString()).toBe('log line ');
    expect(stream.write(Buffer.from('word1')).toString()).toBe('');
    expect(stream.write(Buffer.from('23 done')).toString()).toBe('*** done');
    expect(stream.end().toString()).toBe('');
  });

  it('returns a held-back prefix at end when it was not a secret', () => {
    const stream = new SecretMasker(['password123']).createStream();
    expect(stream.write(Buffer.from('xx passw')).toString()).toBe('xx ');
    expect(stream.end().toString()).toBe('passw');
  });

  it('passes binary output through byte for byte', () => {
    const masker = new SecretMasker(['secret-value-1', 'secret-value-2']);
    const input = randomBytes(256 * 1024);
    expect(maskInChunks(masker, input, [1, 7, 4096, 333]).equals(input)).toBe(true);
  });

  it('masks secrets inside binary output without touching the surrounding bytes', () => {
    const masker = new SecretMasker(['secret-value-1']);
    const a = randomBytes(1000);
    const b = randomBytes(1000);
    const input = Buffer.concat([a, Buffer.from('secret-value-1'), b]);
    const expected = referenceMask(maskPatterns(['secret-value-1']), input);
    expect(maskInChunks(masker, input, [13, 100]).equals(expected)).toBe(true);
  });

  it('agrees with a brute-force reference on random text and chunkings', () => {
    const alphabet = 'abc-\n';
    const rnd = (n: number): string => Array.from({ length: n }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
    for (let round = 0; round < 1000; round++) {
      const secrets = Array.from({ length: 1 + (round % 5) }, () => rnd(2 + Math.floor(Math.random() * 6)));
      const masker = new SecretMasker(secrets);
      const input = Buffer.from(rnd(200));
      const expected = referenceMask(maskPatterns(secrets), input);
      const sizes = [1 + (round % 9), 1 + (round % 4)];
      expect(maskInChunks(masker, input, sizes).toString(), JSON.stringify({ secrets, input: input.toString() })).toBe(expected.toString());
    }
  });

  it('passes everything through when there are no secrets', () => {
    const masker = new SecretMasker([]);
    expect(masker.patternCount).toBe(0);
    expect(masker.maskString('anything')).toBe('anything');
  });

  it('including() masks the secrets and the added values, with the same options, and leaves the original as it was', () => {
    const base = new SecretMasker(['first-secret'], { minLineLength: 8 });
    const more = base.including(['added%value', 'ab\nlonger-line']);
    expect(more.maskString('first-secret added%value ab longer-line')).toBe('*** *** ab ***');
    expect(base.maskString('first-secret added%value')).toBe('*** added%value');
  });
});
