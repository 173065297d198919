/**
 * Terminal output into WebSocket frames: a flood's many small reads become few large frames, while
 * a lone keystroke's echo still goes out at once.
 *
 * Why: Docker hands over a TTY's output as it reads it, and a program that writes line by line (a
 * busybox `yes | head`, whose stdout to a terminal is line-buffered) arrives as reads of a few bytes
 * to a few hundred — tens of thousands of them per MiB. One frame each costs the server a send and
 * the page a message event, a `term.write` and a write callback apiece. So, as VS Code's terminal
 * does with its pty data: the first read after a quiet moment is sent alone and opens a short
 * window; what arrives within the window is joined into one frame sent when the window ends (or
 * as soon as it reaches MAX_FRAME), which opens the next window; a window that gathered nothing
 * closes, and the next read is again sent at once.
 *
 * The window widens while output keeps coming (doubling per window that gathered something, up to
 * MAX_WINDOW_MS), and is back to its first width after a quiet moment. A slow, steady flood (busybox
 * `yes` writes a few hundred KiB/s in 2-byte lines, for minutes) then costs the page one frame —
 * one `term.write`, one redraw of the screen — per MAX_WINDOW_MS instead of one per animation frame:
 * xterm.js redraws the whole screen after a write that scrolled it, and in such a flood that redraw,
 * more than the parsing of a few KiB, is what the tab spends its time on. A keystroke's echo after a
 * quiet moment still goes at once; one typed during a flood waits for the window (at most MAX_WINDOW_MS).
 */

/** How long output is gathered into one frame once it keeps coming: the first window's width. */
export const FRAME_WINDOW_MS = 5;
/** The widest window, reached while output has kept coming for a few windows: about two screen refreshes. */
export const MAX_WINDOW_MS = 32;
/** A frame is sent as soon as it holds this much, window or not. */
export const MAX_FRAME = 64 * 1024;

export interface FrameGatherer {
  /** Adds output; it is sent now (after a quiet moment, or once MAX_FRAME is reached) or at the window's end. */
  push(chunk: Buffer): void;
  /** Sends what is gathered now and stops the window (the shell ended: its last output goes before the exit). */
  end(): void;
}

/**
 * `send` gets each frame, in order. `windowMs` is the first window's width, `maxWindowMs` the widest
 * (equal to `windowMs` for a fixed window).
 */
export function gatherFrames(send: (frame: Buffer) => void, windowMs = FRAME_WINDOW_MS, maxWindowMs = Math.max(windowMs, MAX_WINDOW_MS)): FrameGatherer {
  let parts: Buffer[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let width = windowMs;
  const flush = (): void => {
    if (size === 0) return;
    const frame = parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
    parts = [];
    size = 0;
    send(frame);
  };
  const windowEnds = (): void => {
    timer = undefined;
    if (size === 0) {
      // A quiet window: the next output is sent at once, and gathered again from the narrowest window.
      width = windowMs;
      return;
    }
    flush();
    width = Math.min(maxWindowMs, width * 2);
    timer = setTimeout(windowEnds, width);
  };
  return {
    push(chunk) {
      if (chunk.length === 0) return;
      parts.push(chunk);
      size += chunk.length;
      if (timer === undefined) {
        flush();
        timer = setTimeout(windowEnds, width);
      } else if (size >= MAX_FRAME) {
        flush();
      }
    },
    end() {
      clearTimeout(timer);
      timer = undefined;
      width = windowMs;
      flush();
    },
  };
}
