/**
 * Output into xterm.js with a time budget per task, so the tab's own timers, input and drawing get
 * to run between slices of a flood.
 *
 * Why: xterm.js parses its queued writes until about 12 ms have passed, but it only checks the clock
 * between writes, and a frame of `yes` lines handed over whole is one write that can hold the tab
 * for hundreds of milliseconds on a busy machine. So a frame goes to xterm.js in pieces of
 * WRITE_PIECE (views, no copies), one piece at a time: the next piece is written from the previous
 * one's write callback — in the same task while this task has spent less than TASK_BUDGET_MS, else
 * after yielding to the event loop. Output that arrives while nothing is queued (a keystroke's echo)
 * is written at once. Measured in Chromium on a busy 2-core machine, with 64 KiB frames of `yes`
 * lines fed as fast as the flow control lets them: the gaps between the page's 16 ms timer ticks
 * were p50 24–30 ms, p99 113–148 ms this way, against 36–39 ms and 160–340 ms with each frame's
 * 8 KiB pieces all queued at once, at the same or a better pace.
 */

/** The largest write handed to xterm.js at once: a fraction of a millisecond to parse on a quiet machine. */
export const WRITE_PIECE = 4 * 1024;
/** How long one task may spend writing before the writer yields to the event loop. */
export const TASK_BUDGET_MS = 8;

/** The part of xterm.js's Terminal the writer uses: `callback` runs once `data` was parsed. */
export interface WriteTarget {
  write(data: Uint8Array, callback?: () => void): void;
}

export interface TerminalWriter {
  /** Queues `bytes`; `parsed` runs once the last of them was parsed (in order with earlier output). */
  write(bytes: Uint8Array, parsed: () => void): void;
  /** Drops what is queued; nothing is written after this. */
  dispose(): void;
}

export interface WriterClock {
  now(): number;
  /** Runs `fn` in a later task, after what the event loop has waiting (timers, input, drawing). */
  yieldTo(fn: () => void): void;
}

/**
 * A yield that is not a timer: Chromium clamps nested timers to 4 ms, and xterm.js already hops
 * through a timer of its own after a write to an idle terminal.
 */
function messageYield(): (fn: () => void) => void {
  const channel = new MessageChannel();
  const waiting: Array<() => void> = [];
  channel.port1.onmessage = () => waiting.shift()?.();
  return (fn) => {
    waiting.push(fn);
    channel.port2.postMessage(null);
  };
}

export function budgetedWriter(term: WriteTarget, clock?: WriterClock): TerminalWriter {
  const now = clock ? () => clock.now() : () => performance.now();
  const yieldTo = clock ? (fn: () => void) => clock.yieldTo(fn) : messageYield();
  const queue: Array<{ bytes: Uint8Array; at: number; parsed: () => void }> = [];
  /** A piece is with xterm.js, or a yield is pending: the next piece goes from its callback. */
  let busy = false;
  let disposed = false;
  // When the current task began writing: set by the first write callback of a task, cleared by a
  // microtask (which runs once the task's code has returned).
  let taskStart: number | undefined;
  const spentInTask = (): number => {
    if (taskStart === undefined) {
      taskStart = now();
      queueMicrotask(() => { taskStart = undefined; });
    }
    return now() - taskStart;
  };

  const next = (): void => {
    const frame = queue[0];
    if (disposed || !frame) {
      busy = false;
      return;
    }
    const end = Math.min(frame.at + WRITE_PIECE, frame.bytes.length);
    const piece = frame.at === 0 && end === frame.bytes.length ? frame.bytes : frame.bytes.subarray(frame.at, end);
    frame.at = end;
    const last = end === frame.bytes.length;
    if (last) queue.shift();
    term.write(piece, () => {
      if (disposed) return;
      if (last) frame.parsed();
      if (queue.length === 0) busy = false;
      else if (spentInTask() < TASK_BUDGET_MS) next();
      else yieldTo(next);
    });
  };

  return {
    write(bytes, parsed) {
      if (disposed) return;
      queue.push({ bytes, at: 0, parsed });
      if (busy) return;
      busy = true;
      next();
    },
    dispose() {
      disposed = true;
      queue.length = 0;
    },
  };
}
