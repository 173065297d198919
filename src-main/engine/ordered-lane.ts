/**
 * Runs synchronous sections one at a time, in the order their tickets were taken. handleEvent takes
 * a ticket on arrival, reads `.kiln.yml` concurrently with other events, then plans and inserts in
 * its turn. Why: a burst of webhooks must not reorder pushes of one branch (the later commit must
 * supersede the earlier one, never the reverse), nor freeze the event loop by planning all of them
 * at once.
 *
 * Sections that are ready run back to back within a slice of SLICE_MS; a section that finds the
 * slice spent waits for the next turn of the event loop. Running several small sections in one turn
 * is what lets their inserts share one group commit (storage/group-commit.ts).
 */
import { performance } from 'node:perf_hooks';

export interface Ticket {
  /** Resolves when every earlier ticket is done and the current slice of the event loop has time left. */
  turn(): Promise<void>;
  /** Must be called at least once, also on failure; later calls do nothing. */
  done(): void;
}

export const SLICE_MS = 3;

export class OrderedLane {
  private tail: Promise<void> = Promise.resolve();
  /** When the current slice began; cleared at the end of the event loop turn it began in. */
  private sliceStart: number | undefined;

  take(): Ticket {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => { release = r; });
    return {
      turn: () => previous.then(() => this.enterSlice()),
      done: () => release(),
    };
  }

  private async enterSlice(): Promise<void> {
    if (this.sliceStart !== undefined && performance.now() - this.sliceStart > SLICE_MS) {
      // The reset below was scheduled before this, so the slice is over when this resolves.
      await new Promise<void>((r) => setImmediate(r));
    }
    if (this.sliceStart === undefined) {
      this.sliceStart = performance.now();
      setImmediate(() => { this.sliceStart = undefined; });
    }
  }
}
