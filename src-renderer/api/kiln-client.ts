import type { EngineApi, EngineEvent } from '../../shared/api/engine-api.js';
import type { LogLine } from '../../shared/model/run.js';
import type { ClientAuth } from './api-token.js';

/**
 * What every view talks to. Two transports implement it (IPC in Electron, HTTP/SSE in a browser);
 * views never know which one they have.
 */
export interface KilnClient extends EngineApi {
  readonly transport: 'ipc' | 'http';
  /** Live engine events (runs, jobs, tunnel, deliveries). Returns the unsubscribe function. */
  subscribe(listener: (event: EngineEvent) => void): () => void;
  /**
   * Called each time the live stream opens — the first time (a view fetched as it mounted, before
   * the stream was open) and after a drop (the server restarted, the network blinked): events sent
   * in between were missed, so a view refetches what it shows. Only while
   * something is subscribed. Absent where the stream cannot drop (IPC).
   */
  onReconnect?(listener: () => void): () => void;
  /**
   * Follows a job's log from `fromSeq`: every line exactly once and in seq order, across reconnects
   * (no gap, no duplicate). `onEnd` fires once, after the last line, when the job has finished.
   * Returns `stop`, after which no callback fires.
   */
  followLog(jobId: string, fromSeq: number, onLines: (lines: LogLine[]) => void, onEnd: () => void): () => void;
  /** Sign-in with the API token, for a transport that may need one (HTTP beyond loopback); absent otherwise. */
  readonly auth?: ClientAuth;
  /**
   * The URL to open now for a download link (links cannot carry headers): with a one-time ticket when
   * the server wants a token. Absent where the plain URL always works.
   */
  authorizedUrl?(url: string): Promise<string>;
  artifactUrl(artifactId: string): string;
  rawLogUrl(jobId: string): string;
  /** The WebSocket URL of a new terminal into a job kept for debugging (raw bytes both ways); one per terminal. */
  terminalUrl(jobId: string): Promise<string>;
}
