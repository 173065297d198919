import { describe, expect, it } from 'vitest';
import { budgetedWriter, TASK_BUDGET_MS, WRITE_PIECE, type WriteTarget, type WriterClock } from './terminal-writer.js';

/**
 * xterm.js's write queue, as far as the writer sees it: a write to an idle terminal is parsed in a
 * later task; one written from a write callback joins the running parse. Each piece costs
 * `msPerPiece` on the fake clock. `tasks` records, per task, the pieces parsed and the time spent.
 */
function fakeTerminal(msPerPiece: number) {
  let clock = 0;
  const pending: Array<{ data: Uint8Array; cb?: () => void }> = [];
  const tasks: Array<{ pieces: number; ms: number }> = [];
  const written: number[] = [];
  let parsing = false;
  const runTask = (): void => {
    parsing = true;
    const start = clock;
    let pieces = 0;
    for (let w = pending.shift(); w; w = pending.shift()) {
      clock += msPerPiece;
      pieces++;
      written.push(...w.data);
      w.cb?.();
    }
    parsing = false;
    tasks.push({ pieces, ms: clock - start });
  };
  const term: WriteTarget = {
    write(data, cb) {
      pending.push({ data, cb });
      if (!parsing && pending.length === 1) setTimeout(runTask, 0);
    },
  };
  const yields: number[] = [];
  const fakeClock: WriterClock = { now: () => clock, yieldTo: (fn) => { yields.push(clock); setTimeout(fn, 0); } };
  return { term, fakeClock, tasks, written, yields, pending };
}

/** Waits (in real timer turns) until `done`, or about two seconds. */
const until = async (done: () => boolean): Promise<void> => {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise((r) => setTimeout(r, 1));
};
const bytes = (n: number, seed = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i + seed) % 251);

describe('terminal output into xterm.js', () => {
  it('writes a frame in pieces, whole and in order, and says it was parsed once, after its last piece', async () => {
    const t = fakeTerminal(1);
    const writer = budgetedWriter(t.term, t.fakeClock);
    const frame = bytes(64 * 1024);
    const parsedAt: number[] = [];
    writer.write(frame, () => parsedAt.push(t.written.length));
    await until(() => parsedAt.length > 0);
    expect(t.written).toEqual([...frame]);
    expect(parsedAt).toEqual([frame.length]);
    expect(t.tasks.reduce((n, k) => n + k.pieces, 0)).toBe(64 * 1024 / WRITE_PIECE);
  });

  it('yields to the event loop once a task has spent its budget, so no task writes much longer than the budget', async () => {
    const t = fakeTerminal(3);
    const writer = budgetedWriter(t.term, t.fakeClock);
    let parsed = 0;
    for (let i = 0; i < 8; i++) writer.write(bytes(64 * 1024, i), () => { parsed++; });
    await until(() => parsed === 8);
    expect(t.written.length).toBe(8 * 64 * 1024);
    expect(t.yields.length).toBeGreaterThan(20);
    // The first piece of a task is not counted (the writer learns of the task at its callback).
    for (const task of t.tasks) expect(task.ms).toBeLessThanOrEqual(TASK_BUDGET_MS + 2 * 3);
  });

  it('keeps frames in order and acknowledges each once parsed, however they were split', async () => {
    const t = fakeTerminal(2);
    const writer = budgetedWriter(t.term, t.fakeClock);
    const frames = [bytes(10), bytes(WRITE_PIECE * 3 + 5, 1), bytes(1, 2), bytes(WRITE_PIECE, 3)];
    const parsed: Array<[number, number]> = [];
    frames.forEach((f, i) => writer.write(f, () => parsed.push([i, t.written.length])));
    await until(() => parsed.length === frames.length);
    expect(t.written).toEqual(frames.flatMap((f) => [...f]));
    let total = 0;
    expect(parsed).toEqual(frames.map((f, i) => [i, (total += f.length)]));
  });

  it('hands a keystroke\'s echo to xterm.js at once when nothing is queued', () => {
    const t = fakeTerminal(1);
    const writer = budgetedWriter(t.term, t.fakeClock);
    writer.write(Uint8Array.of(0x61), () => undefined);
    expect(t.pending.map((p) => [...p.data])).toEqual([[0x61]]);
  });

  it('writes nothing more once disposed', async () => {
    const t = fakeTerminal(3);
    const writer = budgetedWriter(t.term, t.fakeClock);
    writer.write(bytes(256 * 1024), () => { throw new Error('parsed after dispose'); });
    await new Promise((r) => setTimeout(r, 0));
    writer.dispose();
    const before = t.written.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(t.written.length).toBeLessThanOrEqual(before + WRITE_PIECE);
    expect(t.written.length).toBeLessThan(256 * 1024);
  });
});
