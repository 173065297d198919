import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { harness, job, leftovers, NONE, run, step } from './executor-helpers.js';
import type { Harness } from './executor-helpers.js';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  await h.cleanup();
});

describe('a job with several steps', () => {
  it('runs them in order in one container sharing /workspace, then removes the container', async () => {
    const r = await run(
      h,
      job([
        step('cat hello.txt; pwd; echo one > /workspace/shared.txt', { name: 'first' }),
        step('cat shared.txt; echo "$KILN_JOB $KILN_WORKSPACE"', { name: 'second' }),
        step('echo to-stderr >&2', { name: 'third' }),
      ]),
    );
    expect(r.result.status).toBe('passed');
    expect(r.out(0)).toBe('hello from the workspace\n/workspace'.replace('\n', '\n'));
    expect(r.out(1)).toBe('one\ntest-job /workspace');
    expect(r.lines.find((l) => l.step === 2 && l.stream === 'stderr')?.text).toBe('to-stderr');
    expect(r.result.steps.map((s) => s.status)).toEqual(['passed', 'passed', 'passed']);
    expect(r.result.steps[0].exitCode).toBe(0);
    // seq numbers are consecutive from 0 and every line has a timestamp
    expect(r.lines.map((l) => l.seq)).toEqual(r.lines.map((_, i) => i));
    expect(r.result.logOffset).toBe(r.lines.length);
    expect(r.lines.every((l) => l.ts > 0)).toBe(true);
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('passes job env, step env, built-ins and event values to the shell', async () => {
    const r = await run(
      h,
      job([step('echo "$GREETING $WHO $KILN_BRANCH $KILN_EVENT $KILN_SHA"', { env: { WHO: 'step' } })], { env: { GREETING: 'hi', WHO: 'job' } }),
    );
    expect(r.out(0)).toBe(`hi step main push ${'a'.repeat(40)}`);
  });

  it('propagates $KILN_ENV variables, multi-line values included, to later steps only', async () => {
    const r = await run(
      h,
      job([
        step('echo "DB_URL=postgres://db:5432/test" >> "$KILN_ENV"\nprintf "CERT<<EOF\\nline one\\nline two\\nEOF\\n" >> "$KILN_ENV"\necho "same=${DB_URL:-unset}"'),
        step('echo "url=$DB_URL"; printf "%s\\n" "$CERT"'),
        step('echo "LATER=x" >> "$KILN_ENV"; echo "still=$DB_URL"'),
      ]),
    );
    expect(r.result.status).toBe('passed');
    expect(r.out(0)).toBe('same=unset');
    expect(r.out(1)).toBe('url=postgres://db:5432/test\nline one\nline two');
    expect(r.out(2)).toBe('still=postgres://db:5432/test');
  });

  it('fails the job at the first failing step and skips the rest', async () => {
    const r = await run(h, job([step('echo before'), step('echo failing; exit 3', { name: 'breaks' }), step('echo never')]));
    expect(r.result.status).toBe('failed');
    expect(r.result.infrastructure).toBeUndefined();
    expect(r.result.error).toBe("step 'breaks' failed with exit code 3");
    expect(r.result.steps.map((s) => [s.status, s.exitCode])).toEqual([
      ['passed', 0],
      ['failed', 3],
      ['skipped', undefined],
    ]);
    expect(r.all()).not.toContain('never');
  });

  it('runs each step with sh -e, so a failing command in the middle fails the step', async () => {
    const r = await run(h, job([step('false\necho not reached')]));
    expect(r.result.status).toBe('failed');
    expect(r.out(0)).toBe('');
  });

  it('continues after a failing step marked continue-on-error', async () => {
    const r = await run(h, job([step('exit 1', { continueOnError: true }), step('echo after')]));
    expect(r.result.status).toBe('passed');
    expect(r.result.steps.map((s) => s.status)).toEqual(['failed', 'passed']);
    expect(r.out(1)).toBe('after');
  });

  it('evaluates step conditions: failure() and always() run after a failure, success() does not', async () => {
    const r = await run(
      h,
      job([
        step('exit 2', { name: 'breaks' }),
        step('echo default', { name: 'default' }),
        step('echo on-failure', { name: 'on-failure', if: 'failure()' }),
        step('echo always', { name: 'always', if: 'always()' }),
        step('echo on-success', { name: 'on-success', if: 'success()' }),
        step('echo main-only', { name: 'branch', if: "always() && branch == 'main'" }),
      ]),
    );
    expect(r.result.status).toBe('failed');
    expect(r.result.steps.map((s) => `${s.name}:${s.status}`)).toEqual([
      'breaks:failed',
      'default:skipped',
      'on-failure:passed',
      'always:passed',
      'on-success:skipped',
      'branch:passed',
    ]);
  });

  it('skips a step whose condition is false and runs failure() steps only after a failure', async () => {
    const r = await run(h, job([step('echo a', { if: "branch == 'release'" }), step('echo b', { if: 'failure()' }), step('echo c')]));
    expect(r.result.status).toBe('passed');
    expect(r.result.steps.map((s) => s.status)).toEqual(['skipped', 'skipped', 'passed']);
  });

  it('reports step status changes as they happen', async () => {
    const r = await run(h, job([step('echo a', { name: 'a' })]));
    expect(r.steps.map((s) => s.status)).toEqual(['running', 'passed']);
    expect(r.steps[1].durationMs).toBeGreaterThanOrEqual(0);
    expect(r.steps[0].logOffset).toBeTypeOf('number');
  });

  it('runs a script larger than what fits in an environment variable', async () => {
    const big = `${'# padding line for a large script\n'.repeat(4000)}echo big-script-ran`;
    const r = await run(h, job([step(big, { name: 'big' })]));
    expect(r.result.status).toBe('passed');
    expect(r.out(0)).toBe('big-script-ran');
  });
});

describe('job hooks (caches, artifacts)', () => {
  it('get a container to exec in and move archives through, before and after the steps', async () => {
    const { makeTar, readFirstFile } = await import('../../src-main/executor/archive.js');
    const { Readable } = await import('node:stream');
    let afterStatus = '';
    let artifact = '';
    const r = await run(h, job([step('cat deps/restored.txt; echo built > out.txt')]), {
      hooks: {
        async beforeSteps(container, log) {
          await container.putArchive('/workspace/deps', Readable.from([makeTar([{ name: 'restored.txt', mode: 0o644, content: Buffer.from('from cache\n') }])]));
          const chunks: Buffer[] = [];
          const { exitCode } = await container.exec(['ls', 'deps'], { onOutput: (_s, c) => chunks.push(c) });
          log(`restored (${exitCode}): ${Buffer.concat(chunks).toString().trim()}`);
        },
        async afterSteps(container, status) {
          afterStatus = status;
          artifact = (await readFirstFile((await container.getArchive('/workspace/out.txt')) as AsyncIterable<Buffer>, 1024)).toString();
        },
      },
    });
    expect(r.result.status).toBe('passed');
    expect(r.out(0)).toBe('from cache');
    expect(r.all()).toContain('restored (0): restored.txt');
    expect(afterStatus).toBe('passed');
    expect(artifact).toBe('built\n');
  });

  it('fail the job when the after-steps hook throws', async () => {
    const r = await run(h, job([step('true')]), { hooks: { afterSteps: () => Promise.reject(new Error('artifact store full')) } });
    expect(r.result.status).toBe('failed');
    expect(r.result.error).toBe('after the steps: artifact store full');
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });
});
