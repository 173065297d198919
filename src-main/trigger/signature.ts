/**
 * Webhook signatures: HMAC-SHA256 over the exact body bytes, compared in constant time against every
 * active secret of a repository (so a secret can be rotated without losing deliveries).
 *
 * GitHub sends `X-Hub-Signature-256: sha256=<hex>`; Gitea sends `X-Gitea-Signature: <hex>`.
 *
 * When a delivery came through smee.io, the bytes are not GitHub's: smee parses the JSON and the
 * client re-sends `JSON.stringify(body)`. GitHub's encoder may have escaped characters that
 * JSON.stringify writes literally (non-ASCII as \uXXXX, `<` `>` `&` as \u003c…, `/` as \/), so the
 * HMAC over the relayed bytes no longer matches. `signatureCandidates` re-creates those encodings;
 * anything else (key order of integer-like keys, number spelling, whitespace) cannot be recovered.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureScheme = 'github' | 'gitea';

export interface ParsedSignature {
  scheme: SignatureScheme;
  digest: Buffer;
}

export type SignatureProblem = 'missing' | 'garbled';

/** Reads the signature header. Header lookup is by lower-case name (Node lower-cases them). */
export function parseSignature(headers: Record<string, string | string[] | undefined>): ParsedSignature | SignatureProblem {
  const github = single(headers['x-hub-signature-256']);
  if (github !== undefined) {
    const m = /^sha256=([0-9a-fA-F]{64})$/.exec(github.trim());
    return m ? { scheme: 'github', digest: Buffer.from(m[1], 'hex') } : 'garbled';
  }
  const gitea = single(headers['x-gitea-signature']);
  if (gitea !== undefined) {
    const m = /^(?:sha256=)?([0-9a-fA-F]{64})$/.exec(gitea.trim());
    return m ? { scheme: 'gitea', digest: Buffer.from(m[1], 'hex') } : 'garbled';
  }
  return 'missing';
}

export function hmacSha256(secret: string, body: Buffer | string): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

/** The header value GitHub would send for these bytes. */
export function signGithub(secret: string, body: Buffer | string): string {
  return `sha256=${hmacSha256(secret, body).toString('hex')}`;
}

/** Constant-time: both buffers are 32 bytes (a parsed digest always is), so timingSafeEqual applies. */
export function digestMatches(expected: Buffer, actual: Buffer): boolean {
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export interface VerifyResult {
  ok: boolean;
  /** The bytes the signature was computed over (the raw body, or a re-encoding of it). */
  signedBytes?: Buffer;
  /** Which encoding matched: 'raw' or the name of a re-encoding. */
  encoding?: string;
}

/**
 * Tries every secret over the raw bytes first; only when `tryReencodings` is set (the delivery came
 * through smee) and the raw bytes fail, over the re-encodings of `signatureCandidates`.
 * Every secret is always tried, so timing does not reveal which secret (if any) matched first.
 */
export function verifySignature(raw: Buffer, signature: ParsedSignature, secrets: readonly string[], tryReencodings: boolean): VerifyResult {
  const rawResult = matchAny(raw, signature.digest, secrets);
  if (rawResult) return { ok: true, signedBytes: raw, encoding: 'raw' };
  if (!tryReencodings) return { ok: false };
  for (const candidate of signatureCandidates(raw)) {
    if (matchAny(candidate.bytes, signature.digest, secrets)) {
      return { ok: true, signedBytes: candidate.bytes, encoding: candidate.name };
    }
  }
  return { ok: false };
}

function matchAny(body: Buffer, digest: Buffer, secrets: readonly string[]): boolean {
  let matched = false;
  for (const secret of secrets) {
    if (digestMatches(hmacSha256(secret, body), digest)) matched = true;
  }
  return matched;
}

export interface Candidate {
  name: string;
  bytes: Buffer;
}

type NonAscii = 'literal' | 'lower' | 'upper';

/**
 * Re-encodings of a JSON body that another encoder could have produced for the same value.
 * The input is assumed to be JSON.stringify output (what smee forwards), where non-ASCII characters,
 * `<`, `>`, `&` and `/` can only occur inside strings, so plain text replacement is safe.
 * Returns no candidates when the body is not JSON.
 */
export function signatureCandidates(raw: Buffer): Candidate[] {
  let compact: string;
  try {
    compact = JSON.stringify(JSON.parse(raw.toString('utf8')));
  } catch {
    return [];
  }
  const seen = new Set<string>([raw.toString('utf8')]);
  const out: Candidate[] = [];
  for (const nonAscii of ['literal', 'lower', 'upper'] as NonAscii[]) {
    for (const html of [false, true]) {
      for (const slash of [false, true]) {
        for (const lineSep of [false, true]) {
          const text = reencode(compact, nonAscii, html, slash, lineSep);
          if (seen.has(text)) continue;
          seen.add(text);
          const name = [`non-ascii:${nonAscii}`, html ? 'html-escaped' : '', slash ? 'slash-escaped' : '', lineSep ? 'u2028-escaped' : '']
            .filter(Boolean).join(',');
          out.push({ name, bytes: Buffer.from(text, 'utf8') });
        }
      }
    }
  }
  return out;
}

function reencode(json: string, nonAscii: NonAscii, html: boolean, slash: boolean, lineSep: boolean): string {
  let s = json;
  if (slash) s = s.replace(/\//g, '\\/');
  if (html) s = s.replace(/[<>&]/g, (c) => uEscape(c, false));
  if (nonAscii !== 'literal') {
    // One \uXXXX per UTF-16 code unit: astral characters become surrogate pairs, as in JSON encoders.
    s = s.replace(/[\u0080-\uffff]/g, (c) => uEscape(c, nonAscii === 'upper'));
  } else if (lineSep) {
    s = s.replace(/[\u2028\u2029]/g, (c) => uEscape(c, false));
  }
  return s;
}

function uEscape(c: string, upper: boolean): string {
  const hex = c.charCodeAt(0).toString(16).padStart(4, '0');
  return `\\u${upper ? hex.toUpperCase() : hex}`;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
