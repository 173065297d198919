import { afterEach, describe, expect, it, vi } from 'vitest';
import { FRAME_WINDOW_MS, gatherFrames, MAX_FRAME, MAX_WINDOW_MS } from './terminal-frames.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('terminal output frames', () => {
  it('sends the first output after a quiet moment at once, alone', () => {
    const sent: string[] = [];
    const frames = gatherFrames((f) => sent.push(f.toString()), 20);
    frames.push(Buffer.from('a'));
    expect(sent).toEqual(['a']);
    frames.end();
  });

  it('joins what arrives within the window into one frame, sent when the window ends', async () => {
    const sent: string[] = [];
    const frames = gatherFrames((f) => sent.push(f.toString()), 20);
    for (const c of ['y\r\n', 'y\r\n', 'y\r\n', 'y\r\n']) frames.push(Buffer.from(c));
    expect(sent).toEqual(['y\r\n']);
    await sleep(60);
    expect(sent).toEqual(['y\r\n', 'y\r\ny\r\ny\r\n']);
    frames.end();
  });

  it('sends at once again after a window that gathered nothing', async () => {
    const sent: string[] = [];
    const frames = gatherFrames((f) => sent.push(f.toString()), 10);
    frames.push(Buffer.from('a'));
    await sleep(60);
    frames.push(Buffer.from('b'));
    expect(sent).toEqual(['a', 'b']);
    frames.end();
  });

  it('sends a frame as soon as it reaches the largest size, window or not', () => {
    const sizes: number[] = [];
    const frames = gatherFrames((f) => sizes.push(f.length), 10_000);
    frames.push(Buffer.alloc(1));
    for (let i = 0; i < 20; i++) frames.push(Buffer.alloc(4095));
    expect(sizes[0]).toBe(1);
    expect(sizes[1]).toBeGreaterThanOrEqual(MAX_FRAME);
    expect(sizes[1]).toBeLessThan(MAX_FRAME + 4095);
    frames.end();
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(1 + 20 * 4095);
  });

  it('sends what is gathered when it ends, and nothing after', async () => {
    const sent: string[] = [];
    const frames = gatherFrames((f) => sent.push(f.toString()), 10_000);
    frames.push(Buffer.from('$ '));
    frames.push(Buffer.from('exit\r\n'));
    frames.end();
    expect(sent).toEqual(['$ ', 'exit\r\n']);
    await sleep(30);
    expect(sent).toEqual(['$ ', 'exit\r\n']);
  });

  describe('while output keeps coming in tiny writes', () => {
    afterEach(() => { vi.useRealTimers(); });

    /** A producer writing `y\n` every millisecond for `ms`; returns when each frame was sent, relative to its start. */
    const steadyFlood = (ms: number, windowMs?: number, maxWindowMs?: number): { at: number[]; bytes: number } => {
      vi.useFakeTimers();
      const at: number[] = [];
      let bytes = 0;
      const start = Date.now();
      const frames = gatherFrames((f) => { at.push(Date.now() - start); bytes += f.length; }, windowMs, maxWindowMs);
      for (let t = 0; t < ms; t++) {
        frames.push(Buffer.from('y\n'));
        vi.advanceTimersByTime(1);
      }
      frames.end();
      return { at, bytes };
    };

    it('widens the window step by step, up to the widest, so a steady trickle becomes few frames', () => {
      const { at, bytes } = steadyFlood(1000);
      expect(bytes).toBe(2000);
      const gaps = at.slice(1).map((t, i) => t - at[i]);
      // 5, 10, 20, then the widest window for the rest (the last frame is the end's).
      expect(gaps.slice(0, 4)).toEqual([FRAME_WINDOW_MS, 2 * FRAME_WINDOW_MS, 4 * FRAME_WINDOW_MS, MAX_WINDOW_MS]);
      expect(new Set(gaps.slice(3, -1))).toEqual(new Set([MAX_WINDOW_MS]));
      expect(at.length).toBeLessThan(1000 / MAX_WINDOW_MS + 6);
    });

    it('keeps a fixed window when the widest is the first', () => {
      const { at } = steadyFlood(200, 10, 10);
      const gaps = at.slice(1, -1).map((t, i) => t - at[i]);
      expect(new Set(gaps)).toEqual(new Set([10]));
    });

    it('sends a keystroke\'s echo at once after a quiet moment that follows a flood, and narrows the window again', () => {
      vi.useFakeTimers();
      const sent: Array<[number, string]> = [];
      const start = Date.now();
      const frames = gatherFrames((f) => sent.push([Date.now() - start, f.toString()]));
      for (let t = 0; t < 300; t++) {
        frames.push(Buffer.from('y\n'));
        vi.advanceTimersByTime(1);
      }
      // The flood ends; its last window is sent, then a window gathers nothing.
      vi.advanceTimersByTime(2 * MAX_WINDOW_MS + 1);
      const quietFrom = sent.length;
      frames.push(Buffer.from('a'));
      expect(sent.slice(quietFrom)).toEqual([[300 + 2 * MAX_WINDOW_MS + 1, 'a']]);
      // The prompt's redraw right after the echo waits for the first, narrowest window only.
      frames.push(Buffer.from('b'));
      vi.advanceTimersByTime(FRAME_WINDOW_MS);
      expect(sent.slice(quietFrom).map(([, s]) => s)).toEqual(['a', 'b']);
      frames.end();
    });
  });
});
