import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { harness, job, leftovers, NONE, run, step } from './executor-helpers.js';
import type { Harness } from './executor-helpers.js';

let h: Harness;
beforeEach(() => {
  h = harness({ killGraceMs: 1500 });
});
afterEach(async () => {
  await h.cleanup();
});

/** A step that survives SIGTERM (it only prints) and must be SIGKILLed. */
const STUBBORN = `trap 'echo got TERM' TERM\nwhile :; do sleep 0.1 || true; done`;

describe('step timeouts', () => {
  it('sends SIGTERM, then SIGKILL after the grace period, and records timed_out', async () => {
    const started = Date.now();
    const r = await run(h, job([step(STUBBORN, { name: 'stubborn', timeoutMs: 800 }), step('echo next')]));
    const elapsed = Date.now() - started;
    expect(r.result.status).toBe('timed_out');
    expect(r.result.error).toBe("step 'stubborn' timed out after 800 ms");
    expect(r.result.steps.map((s) => s.status)).toEqual(['timed_out', 'skipped']);
    expect(r.out(0)).toContain('got TERM');
    const notes = r.lines.filter((l) => l.stream === 'system' && l.step === 0).map((l) => l.text);
    expect(notes.some((t) => t.includes('SIGTERM'))).toBe(true);
    expect(notes.some((t) => t.includes('sending SIGKILL'))).toBe(true);
    // TERM at 0.8 s, KILL at 2.3 s: the step ended between those and well before the next minute.
    expect(r.result.steps[0].durationMs).toBeGreaterThanOrEqual(2300);
    expect(elapsed).toBeLessThan(10_000);
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('records timed_out from the timer even when the step exits 0 on SIGTERM', async () => {
    const r = await run(h, job([step(`trap 'exit 0' TERM\nwhile :; do sleep 0.1; done`, { timeoutMs: 500 })]));
    expect(r.result.status).toBe('timed_out');
    expect(r.result.steps[0].status).toBe('timed_out');
    expect(r.result.steps[0].exitCode).toBe(0);
    // It ended on SIGTERM: no SIGKILL was needed.
    expect(r.lines.some((l) => l.text.includes('sending SIGKILL'))).toBe(false);
  });

  it('lets failure() steps run after a step timeout', async () => {
    const r = await run(h, job([step('sleep 30', { timeoutMs: 300 }), step('echo cleanup', { if: 'failure()' })]));
    expect(r.result.status).toBe('timed_out');
    expect(r.out(1)).toBe('cleanup');
  });
});

describe('job timeouts', () => {
  it('stops the running step and records timed_out for the job', async () => {
    const r = await run(h, job([step('echo first'), step('sleep 60', { name: 'slow' }), step('echo never')], { timeoutMs: 2500 }));
    expect(r.result.status).toBe('timed_out');
    expect(r.result.error).toMatch(/^job timed out after 2.5 s during step 'slow'/);
    expect(r.result.steps.map((s) => s.status)).toEqual(['passed', 'timed_out', 'skipped']);
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });
});

describe('cancellation', () => {
  it('cancels a running step within a second and removes every container', async () => {
    const controller = new AbortController();
    let abortedAt = 0;
    const pending = run(h, job([step(`trap 'echo got TERM; exit 0' TERM\nwhile :; do sleep 0.05; done`, { name: 'long' }), step('echo never')]), {
      signal: controller.signal,
      onStep: (s) => {
        if (s.status === 'running') {
          setTimeout(() => {
            abortedAt = Date.now();
            controller.abort();
          }, 700);
        }
      },
    });
    const r = await pending;
    const gotTerm = r.lines.find((l) => l.text === 'got TERM');
    expect(r.result.status).toBe('cancelled');
    expect(r.result.error).toBe("job cancelled during step 'long'");
    expect(r.result.steps.map((s) => s.status)).toEqual(['cancelled', 'skipped']);
    expect(r.out(0)).toContain('got TERM');
    // SIGTERM reached the step's processes within a second of the cancel.
    expect(gotTerm!.ts - abortedAt).toBeLessThan(1000);
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('kills a step that ignores SIGTERM after the grace period', async () => {
    const controller = new AbortController();
    const r = await run(h, job([step(STUBBORN)]), {
      signal: controller.signal,
      onStep: (s) => {
        if (s.status === 'running') setTimeout(() => controller.abort(), 500);
      },
    });
    expect(r.result.status).toBe('cancelled');
    expect(r.out(0)).toContain('got TERM');
    expect(r.lines.some((l) => l.text.includes('sending SIGKILL'))).toBe(true);
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('runs no further step when cancelled between steps', async () => {
    const controller = new AbortController();
    const r = await run(h, job([step('echo one', { name: 'one' }), step('echo two', { name: 'two' }), step('echo three', { name: 'three', if: 'always()' })]), {
      signal: controller.signal,
      onStep: (s) => {
        if (s.name === 'one' && s.status === 'passed') controller.abort();
      },
    });
    expect(r.result.status).toBe('cancelled');
    expect(r.result.steps.map((s) => s.status)).toEqual(['passed', 'skipped', 'skipped']);
    expect(r.all()).not.toContain('two\n');
    expect(r.out(1)).toBe('');
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('creates nothing for a job cancelled before it starts', async () => {
    const controller = new AbortController();
    controller.abort();
    const r = await run(h, job([step('echo never')]), { signal: controller.signal });
    expect(r.result.status).toBe('cancelled');
    expect(r.result.steps[0].status).toBe('skipped');
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });
});

describe('background processes', () => {
  it('ends a step when its shell exits even if a background process keeps the output open', async () => {
    const r = await run(h, job([step('sleep 30 &\necho started'), step('echo second')]));
    expect(r.result.status).toBe('passed');
    expect(r.result.steps[0].durationMs).toBeLessThan(5000);
    expect(r.out(1)).toBe('second');
  });
});
