import { createParser } from 'eventsource-parser';

/** An EventSource-format reader over fetch (parsing by eventsource-parser), for tests: collects events, can wait for them. */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

export interface SseReader {
  status: number;
  headers: Headers;
  events: SseEvent[];
  comments: string[];
  /** Resolves when the server ended the stream. */
  ended: Promise<void>;
  waitFor(predicate: (events: SseEvent[]) => boolean, what: string, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

export async function readSse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  const notify = (): void => { for (const w of waiters) w(); };
  const parser = createParser({
    onEvent: (message) => {
      events.push({ id: message.id, event: message.event, data: message.data });
    },
    onComment: (comment) => comments.push(comment.trim()),
  });
  const ended = (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
        notify();
      }
    } catch {
      // aborted by close()
    }
    notify();
  })();
  return {
    status: res.status,
    headers: res.headers,
    events,
    comments,
    ended,
    close: () => controller.abort(),
    waitFor(predicate, what, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (predicate(events)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(events);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(events)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}
