import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hmacSha256, parseSignature, signatureCandidates, signGithub, verifySignature } from './signature.js';
import { FIXTURES } from '../../test/helpers/fixtures.js';

const vector = JSON.parse(readFileSync(`${FIXTURES}/github/hmac-test-vector.json`, 'utf8')) as {
  secret: string; payload: string; signature: string; header_value: string;
  negative_case_not_from_docs: { payload: string; signature: string };
};
const gitea = JSON.parse(readFileSync(`${FIXTURES}/gitea/hmac-test-vector.json`, 'utf8')) as { secret: string; signature: string; payload_file: string };

describe('GitHub signature verification', () => {
  it('reproduces GitHub\'s documented test vector', () => {
    expect(hmacSha256(vector.secret, vector.payload).toString('hex')).toBe(vector.signature);
    expect(signGithub(vector.secret, vector.payload)).toBe(vector.header_value);
  });

  it('accepts the documented header value for the documented payload', () => {
    const sig = parseSignature({ 'x-hub-signature-256': vector.header_value });
    if (typeof sig === 'string') throw new Error(sig);
    expect(verifySignature(Buffer.from(vector.payload), sig, [vector.secret], false).ok).toBe(true);
  });

  it('rejects the documented signature for the payload with a trailing newline', () => {
    const sig = parseSignature({ 'x-hub-signature-256': vector.header_value });
    if (typeof sig === 'string') throw new Error(sig);
    expect(verifySignature(Buffer.from(vector.negative_case_not_from_docs.payload), sig, [vector.secret], true).ok).toBe(false);
    expect(hmacSha256(vector.secret, vector.negative_case_not_from_docs.payload).toString('hex')).toBe(vector.negative_case_not_from_docs.signature);
  });

  it('tries every secret, so a rotated-out secret still verifies while it is listed', () => {
    const sig = parseSignature({ 'x-hub-signature-256': vector.header_value });
    if (typeof sig === 'string') throw new Error(sig);
    expect(verifySignature(Buffer.from(vector.payload), sig, ['new', vector.secret], false).ok).toBe(true);
    expect(verifySignature(Buffer.from(vector.payload), sig, ['new', 'other'], false).ok).toBe(false);
  });

  it.each([
    ['absent', {}, 'missing'],
    ['not hex', { 'x-hub-signature-256': `sha256=${'g'.repeat(64)}` }, 'garbled'],
    ['too short', { 'x-hub-signature-256': `sha256=${'a'.repeat(63)}` }, 'garbled'],
    ['without prefix', { 'x-hub-signature-256': 'a'.repeat(64) }, 'garbled'],
    ['sha1', { 'x-hub-signature-256': `sha1=${'a'.repeat(40)}` }, 'garbled'],
  ])('reports a header that is %s as %s', (_name, headers, expected) => {
    expect(parseSignature(headers)).toBe(expected);
  });

  it('verifies Gitea\'s bare-hex X-Gitea-Signature vector over the raw file bytes', () => {
    const body = readFileSync(`${FIXTURES}/gitea/${gitea.payload_file}`);
    const sig = parseSignature({ 'x-gitea-signature': gitea.signature });
    if (typeof sig === 'string') throw new Error(sig);
    expect(sig.scheme).toBe('gitea');
    expect(verifySignature(body, sig, [gitea.secret], false).ok).toBe(true);
  });
});

describe('re-encodings after smee', () => {
  const value = { title: 'Café <b>&</b> 日本 🚀 a/b', n: 1, line: 'x\u2028y' };
  const relayed = Buffer.from(JSON.stringify(value));

  it.each([
    ['non-ASCII escaped in lowercase hex', (s: string) => s.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)],
    ['non-ASCII escaped in uppercase hex', (s: string) => s.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`)],
    ['HTML characters escaped as GitHub does', (s: string) => s.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')],
    ['slashes escaped', (s: string) => s.replace(/\//g, '\\/')],
  ])('finds the original bytes when the sender had %s', (_name, encode) => {
    const original = encode(JSON.stringify(value));
    expect(JSON.parse(original)).toEqual(value);
    const names = signatureCandidates(relayed).map((c) => c.bytes.toString('utf8'));
    expect(names).toContain(original);
  });

  it('verifies a signature over GitHub-style bytes from the relayed JSON.stringify bytes', () => {
    const original = JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')
      .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    const sig = parseSignature({ 'x-hub-signature-256': signGithub('s3cret', original) });
    if (typeof sig === 'string') throw new Error(sig);
    expect(verifySignature(relayed, sig, ['s3cret'], false).ok).toBe(false);
    const result = verifySignature(relayed, sig, ['s3cret'], true);
    expect(result.ok).toBe(true);
    expect(result.signedBytes?.toString('utf8')).toBe(original);
  });

  it('cannot recover bytes that differ in whitespace', () => {
    const original = JSON.stringify(value, null, 2);
    const sig = parseSignature({ 'x-hub-signature-256': signGithub('s3cret', original) });
    if (typeof sig === 'string') throw new Error(sig);
    expect(verifySignature(relayed, sig, ['s3cret'], true).ok).toBe(false);
  });

  it('offers no candidates for a body that is not JSON', () => {
    expect(signatureCandidates(Buffer.from('payload=%7B%7D'))).toEqual([]);
  });
});
