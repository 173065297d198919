/**
 * Follows one job's log to its end over the two feeds the engine offers every transport: the paged
 * log API and live engine events. The SSE route follows the engine itself; the IPC client follows it
 * through the preload bridge. (The HTTP client reads the SSE route's stream and uses the
 * LogSequencer directly.)
 *
 * Call order: subscribe first, then read the backlog page by page, then pass live lines on. A live
 * batch seen while the backlog is read waits until that read ends (the pages carry those lines too;
 * reading them twice would only cost). When the job reaches a terminal status the pages are read
 * again until one says `complete`; then `onEnd` fires once and following stops. Every line goes
 * through one LogSequencer: emitted once, in order, without a gap.
 */
import type { LogLine } from '../model/run.js';
import { isTerminal } from '../model/status.js';
import type { EngineEvent, LogChunk } from './engine-api.js';
import { LogSequencer } from './log-sequencer.js';

/** A job's log as a transport sees it. */
export interface JobLogFeed {
  /** A page of the job's log from `offset` (engine.getLog for that job). */
  getLog(offset: number, limit: number): Promise<LogChunk>;
  /** Live engine events; returns the unsubscribe function. */
  subscribe(listener: (event: EngineEvent) => void): () => void;
}

export interface FollowJobLogOptions {
  jobId: string;
  /** The seq of the first line wanted. */
  from: number;
  onLines(lines: LogLine[]): void;
  /** Once, after the last line, with the seq after it. */
  onEnd(nextSeq: number): void;
  /** A page or a hole could not be read. Default: ignored (the next read tries again). */
  onError?(err: unknown): void;
  /** Reads the pages again this often until the end: a safety net for a lost event. 0 (default): never. */
  pollMs?: number;
}

/** Lines per page read. */
export const LOG_PAGE = 1000;

/** Starts following; returns `stop`, after which no callback fires. */
export function followJobLog(feed: JobLogFeed, o: FollowJobLogOptions): () => void {
  let stopped = false;
  let live = false;
  const early: LogLine[] = [];
  const seq = new LogSequencer({
    from: o.from,
    fetchRange: async (from, count) => (await feed.getLog(from, count)).lines,
    emit: (lines) => { if (!stopped) o.onLines(lines); },
    onError: (err) => { if (!stopped) o.onError?.(err); },
  });

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearInterval(poll);
    unsubscribe();
    seq.close();
  };

  // One read at a time; a read asked for during another runs once more after it (it may see the end).
  let reading = false;
  let again = false;
  const read = (): void => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    void (async () => {
      do {
        again = false;
        let chunk: LogChunk | undefined;
        try {
          chunk = await seq.readPages((offset) => feed.getLog(offset, LOG_PAGE));
        } catch (err) {
          if (!stopped) o.onError?.(err);
        }
        if (!live) {
          live = true;
          seq.push(early.splice(0));
        }
        if (chunk?.complete && !stopped) {
          await seq.whenIdle();
          if (stopped) break;
          const next = seq.nextSeq;
          stop();
          o.onEnd(next);
        }
      } while (again && !stopped);
      reading = false;
    })();
  };

  const unsubscribe = feed.subscribe((event) => {
    if (stopped) return;
    if (event.type === 'log' && event.jobId === o.jobId) {
      if (live) seq.push(event.lines);
      else early.push(...event.lines);
    } else if (event.type === 'job' && event.jobId === o.jobId && isTerminal(event.status)) {
      read();
    }
  });
  const poll = o.pollMs ? setInterval(read, o.pollMs) : undefined;
  read();
  return stop;
}
