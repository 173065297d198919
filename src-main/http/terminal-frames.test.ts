import { describe, expect, it } from 'vitest';
import { gatherFrames, MAX_FRAME } from './terminal-frames.js';

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
});
