import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { runGit } from './git-spawner.js';

// A poller passes one long-lived signal to every git call it makes (catch-up's ls-remote, for the
// life of the engine); each call must leave the signal as it found it, and aborting must still kill git.
describe('runGit with a long-lived abort signal', () => {
  it('leaves no abort listener on the signal once each git call has ended', async () => {
    const controller = new AbortController();
    for (let i = 0; i < 25; i++) {
      const r = await runGit(['--version'], process.env, { timeoutMs: 10_000, signal: controller.signal });
      expect(r.ok).toBe(true);
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('still kills a running git when the signal aborts, and then removes its listener', async () => {
    const controller = new AbortController();
    // `git hash-object --stdin` waits for its standard input, which never ends: only the abort stops it.
    const started = Date.now();
    const running = runGit(['hash-object', '--stdin'], process.env, { timeoutMs: 60_000, signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    setTimeout(() => controller.abort(), 200);
    const r = await running;
    expect(r.ok).toBe(false);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('does not start waiting on a signal that has already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const r = await runGit(['hash-object', '--stdin'], process.env, { timeoutMs: 60_000, signal: controller.signal });
    expect(r.ok).toBe(false);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
