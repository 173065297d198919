/**
 * The engine's event bus, built before anything else so that no part needs a reference to a part
 * built after it. Two kinds of traffic:
 * - `events`: what the engine tells the outside (runs, jobs, log lines, tunnel, deliveries), heard
 *   by the HTTP server's SSE streams, the Electron window and the tests;
 * - internal topics between parts built in data order: the scheduler reports committed changes
 *   (the worker pool and the runs service react), settings report a save (the engine adjusts its
 *   pool and tables before outside listeners hear of it).
 * Listeners run synchronously in subscription order; one that throws is reported and skipped.
 */
import type { EngineEvent, TunnelState } from '../../shared/api/engine-api.js';
import type { SchedulerChange } from '../queue/scheduler.js';
import type { SettingsChange } from '../settings/settings-service.js';

export class Topic<T> {
  private readonly listeners = new Set<(value: T) => void>();

  constructor(private readonly name: string, private readonly onError: (message: string, err: unknown) => void) {}

  /** Returns the unsubscribe function. */
  on(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(value: T): void {
    for (const l of this.listeners) {
      try {
        l(value);
      } catch (err) {
        this.onError(`a listener of ${this.name} threw`, err);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}

export type EngineChange = { kind: 'down'; engine: string; jobIds: string[]; reason: string } | { kind: 'up'; engine: string };

export class EngineBus {
  /** Live events for the outside. */
  readonly events: Topic<EngineEvent>;
  /** Queue changes, after their transaction committed. */
  readonly scheduler: Topic<SchedulerChange[]>;
  /** A settings save, applied to the configuration (the engine's own adjustments subscribe first). */
  readonly settings: Topic<SettingsChange>;
  /** A Docker engine went down (with the jobs it was running) or came back (the worker pool reacts). */
  readonly engines: Topic<EngineChange>;
  /** The smee tunnel's state as its owner last reported it (health and settings read it). */
  tunnel: TunnelState = { state: 'disabled' };

  constructor(onError: (message: string, err: unknown) => void) {
    this.events = new Topic('engine events', onError);
    this.scheduler = new Topic('scheduler changes', onError);
    this.settings = new Topic('settings changes', onError);
    this.engines = new Topic('engine changes', onError);
  }

  setTunnel(state: TunnelState): void {
    this.tunnel = state;
    this.events.emit({ type: 'tunnel', tunnel: state });
  }
}
