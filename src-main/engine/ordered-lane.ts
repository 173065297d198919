/**
 * Runs synchronous sections one at a time, in the order their tickets were taken, each in its own
 * turn of the event loop. handleEvent takes a ticket on arrival, reads `.kiln.yml` concurrently
 * with other events, then plans and inserts in its turn. Why: a burst of webhooks must neither
 * freeze the event loop (all the planning in one turn) nor reorder pushes of one branch (the later
 * commit must supersede the earlier one, never the reverse).
 */
export interface Ticket {
  /** Resolves when every earlier ticket is done and the event loop had a turn. */
  turn(): Promise<void>;
  /** Must be called exactly once, also on failure. */
  done(): void;
}

export class OrderedLane {
  private tail: Promise<void> = Promise.resolve();

  take(): Ticket {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => { release = r; });
    return {
      turn: () => previous.then(() => new Promise<void>((r) => setImmediate(r))),
      done: () => release(),
    };
  }
}
