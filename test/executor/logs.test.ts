import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { harness, job, run, step } from './executor-helpers.js';
import type { Harness } from './executor-helpers.js';

let h: Harness;
beforeEach(() => {
  h = harness({ maxStepOutputBytes: 256 * 1024 });
});
afterEach(async () => {
  await h.cleanup();
});

const TOKEN = 'tok-9f8e7d6c5b4a';
const KEY = '-----BEGIN KEY-----\nMIIEpAIBAAKCAQEA7xyz\nQWERTYUIOPASDFGH\n}\n-----END KEY-----';

describe('secret masking in step output', () => {
  it('masks a secret in stdout and stderr, and the job receives only the secrets it names', async () => {
    const r = await run(h, job([step('echo "token is $NPM_TOKEN"; echo "$NPM_TOKEN" >&2; echo "other=${OTHER:-unset}"')], { secrets: ['NPM_TOKEN'] }), {
      secrets: { NPM_TOKEN: TOKEN, OTHER: 'other-secret-value' },
    });
    expect(r.result.status).toBe('passed');
    const text = (stream: string) => r.lines.filter((l) => l.step === 0 && l.stream === stream).map((l) => l.text);
    expect(text('stdout')).toEqual(['token is ***', 'other=unset']);
    expect(text('stderr')).toEqual(['***']);
    expect(r.all()).not.toContain(TOKEN);
  });

  it('masks a secret written in two separate writes (split across chunks)', async () => {
    // The two halves reach the executor as two exec frames, 300 ms apart.
    const r = await run(h, job([step('printf "%s" "${NPM_TOKEN%%-*}-"; sleep 0.3; printf "%s\\n" "${NPM_TOKEN#*-}"')], { secrets: ['NPM_TOKEN'] }), {
      secrets: { NPM_TOKEN: TOKEN },
    });
    expect(r.out(0)).toBe('***');
  });

  it('masks the base64 form and each long line of a multi-line secret, but not its short lines', async () => {
    const r = await run(
      h,
      job([step('printf "%s" "$TOKEN" | base64; printf "%s\\n" "$KEY" | sed -n 2p; echo "{"; echo "}"')], { secrets: ['TOKEN', 'KEY'] }),
      { secrets: { TOKEN, KEY } },
    );
    const out = r.out(0).split('\n');
    expect(out[0].startsWith('***')).toBe(true);
    expect(out.slice(1)).toEqual(['***', '{', '}']);
    expect(r.all()).not.toContain(Buffer.from(TOKEN).toString('base64').slice(0, 12));
  });

  it('masks secrets in Kiln’s own messages about the job', async () => {
    const r = await run(h, job([step('exit 0', { name: `deploy ${TOKEN}` })]), { secrets: { T: TOKEN } });
    expect(r.all()).not.toContain(TOKEN);
  });
});

describe('log lines', () => {
  it('keeps a partial last line until the step ends', async () => {
    const r = await run(h, job([step('printf "no newline at the end"')]));
    expect(r.out(0)).toBe('no newline at the end');
  });

  it('does not corrupt multi-byte characters, and shows bytes that are not UTF-8 as escapes', async () => {
    const r = await run(h, job([step(`printf 'h\\303\\251llo w\\303\\266rld\\n'; printf 'bin:\\377\\376\\001end\\n'`)]));
    expect(r.out(0)).toBe('héllo wörld\nbin:\\xff\\xfe\u0001end');
  });

  it('labels job-level lines as system lines without a step', async () => {
    const r = await run(h, job([step('echo x')]));
    const system = r.lines.filter((l) => l.stream === 'system' && l.step === null).map((l) => l.text);
    expect(system.some((t) => t.includes('workspace ready'))).toBe(true);
  });

  it('truncates a step’s output over the limit with one warning line and keeps the step running', async () => {
    // 400 KiB of output against a 256 KiB limit, then a marker after the flood.
    const r = await run(h, job([step('i=0; while [ $i -lt 4000 ]; do echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); done; echo done > /tmp/finished'), step('cat /tmp/finished')]));
    expect(r.result.status).toBe('passed');
    const stored = r.lines.filter((l) => l.step === 0 && l.stream === 'stdout');
    const bytes = stored.reduce((n, l) => n + Buffer.byteLength(l.text) + 1, 0);
    // +1: the last stored line was cut at the limit and had no newline of its own.
    expect(bytes).toBeLessThanOrEqual(256 * 1024 + 1);
    expect(bytes).toBeGreaterThan(250 * 1024);
    const warnings = r.lines.filter((l) => l.stream === 'system' && l.text.includes('exceeded 256 KiB'));
    expect(warnings).toHaveLength(1);
    expect(r.out(1)).toBe('done');
  });
});
