import { ApiError, type ApiErrorCode, type EngineApi, type EngineEvent, type Envelope, type ConnectInput, type ConnectReport, type KilnBridge, type RunReporting } from '../../shared/api/engine-api.js';
import { isTerminal } from '../../shared/model/status.js';
import type { LogLine } from '../../shared/model/run.js';
import type { KilnClient } from './kiln-client.js';
import { LogSequencer } from './log-sequencer.js';

const CODES: readonly ApiErrorCode[] = ['NOT_FOUND', 'BAD_REQUEST', 'CONFLICT', 'UNAUTHORIZED', 'UNAVAILABLE', 'INTERNAL'];

/** Rebuilds the main process's envelope as a value or an ApiError (errors never cross as exceptions). */
export function unwrap<T>(envelope: Envelope<unknown>): T {
  if (envelope.ok) return envelope.value as T;
  const code = CODES.includes(envelope.error.code) ? envelope.error.code : 'INTERNAL';
  throw new ApiError(code, envelope.error.message);
}

type Method = keyof EngineApi;

/**
 * The Electron transport: every call goes through the preload's one generic `invoke`; live events
 * (including log lines) arrive through `onEvent`. Downloads use the embedded HTTP server's URLs.
 */
export class IpcClient implements KilnClient {
  readonly transport = 'ipc' as const;
  readonly canWriteSecrets = true;
  private serverBase = '';

  constructor(private readonly bridge: KilnBridge) {}

  /** Asks main for the embedded server's address (downloads are plain HTTP links). */
  async init(): Promise<void> {
    try { this.serverBase = await this.request<string>('serverUrl', []); } catch { this.serverBase = ''; }
  }

  private async request<T>(method: string, args: unknown[]): Promise<T> {
    let envelope: Envelope<unknown>;
    try {
      envelope = await this.bridge.invoke(method, args);
    } catch (err) {
      throw new ApiError('UNAVAILABLE', `the Kiln engine did not answer ${method}: ${(err as Error).message}`);
    }
    return unwrap<T>(envelope);
  }

  private call<M extends Method>(method: M, ...args: Parameters<NonNullable<EngineApi[M]>>): ReturnType<NonNullable<EngineApi[M]>> {
    return this.request(method, args) as ReturnType<NonNullable<EngineApi[M]>>;
  }

  listRuns: EngineApi['listRuns'] = (q) => this.call('listRuns', q);
  getRun: EngineApi['getRun'] = (id) => this.call('getRun', id);
  triggerRun: EngineApi['triggerRun'] = (r) => this.call('triggerRun', r);
  cancelRun: EngineApi['cancelRun'] = (id) => this.call('cancelRun', id);
  rerun: EngineApi['rerun'] = (id, o) => this.call('rerun', id, o);
  getLog: EngineApi['getLog'] = (id, offset, limit) => this.call('getLog', id, offset, limit);
  searchLog: EngineApi['searchLog'] = (id, q, limit) => this.call('searchLog', id, q, limit);
  listArtifacts: EngineApi['listArtifacts'] = (id) => this.call('listArtifacts', id);
  listDeliveries: EngineApi['listDeliveries'] = (limit) => this.call('listDeliveries', limit);
  listRepositories: EngineApi['listRepositories'] = () => this.call('listRepositories');
  storageMetrics: EngineApi['storageMetrics'] = () => this.call('storageMetrics');
  health: EngineApi['health'] = () => this.call('health');
  getSettings: EngineApi['getSettings'] = () => this.call('getSettings');
  saveRepository: EngineApi['saveRepository'] = (input) => this.call('saveRepository', input);
  removeRepository: EngineApi['removeRepository'] = (name) => this.call('removeRepository', name);
  saveServerSettings: EngineApi['saveServerSettings'] = (input) => this.call('saveServerSettings', input);
  getRunReporting = (runId: string): Promise<RunReporting> => this.call('getRunReporting', runId);
  connectRepository = (input: ConnectInput): Promise<ConnectReport> => this.call('connectRepository', input);

  setSecret(repo: string, name: string, value: string): Promise<void> {
    return this.request('setSecret', [repo, name, value]);
  }
  artifactUrl(artifactId: string): string {
    return `${this.serverBase}/api/artifacts/${encodeURIComponent(artifactId)}/download`;
  }
  rawLogUrl(jobId: string): string {
    return `${this.serverBase}/api/jobs/${encodeURIComponent(jobId)}/log/raw`;
  }

  subscribe(listener: (event: EngineEvent) => void): () => void {
    return this.bridge.onEvent(listener);
  }

  followLog(jobId: string, fromSeq: number, onLines: (lines: LogLine[]) => void, onEnd: () => void): () => void {
    let stopped = false;
    let ended = false;
    const seq = new LogSequencer(
      fromSeq,
      async (from, count) => (await this.getLog(jobId, from, count)).lines.filter((l) => l.seq < from + count),
      (lines) => { if (!stopped) onLines(lines); },
    );
    // Catch up through the paged API, then keep reading until the job is complete. Live 'log'
    // events go through the same sequencer, so an event racing a page is dropped, not doubled.
    let inFlight: Promise<void> | null = null;
    const catchUp = (): Promise<void> => (inFlight ??= readPages().finally(() => { inFlight = null; }));
    const readPages = async (): Promise<void> => {
      while (!stopped && !ended) {
        const chunk = await this.getLog(jobId, seq.nextSeq);
        seq.push(chunk.lines);
        await seq.whenIdle();
        if (chunk.complete) {
          ended = true;
          if (!stopped) onEnd();
          return;
        }
        if (chunk.lines.length === 0) return; // caught up: live events carry the rest
      }
    };
    const unsubscribe = this.bridge.onEvent((event) => {
      if (stopped || ended) return;
      if (event.type === 'log' && event.jobId === jobId) seq.push(event.lines);
      else if (event.type === 'job' && event.jobId === jobId && isTerminal(event.status)) void catchUp().catch(() => undefined);
    });
    void catchUp().catch(() => undefined);
    // A safety net for an event lost between catch-up and subscription: poll slowly until the end.
    const poll = setInterval(() => { if (!ended) void catchUp().catch(() => undefined); }, 3000);
    return () => {
      stopped = true;
      clearInterval(poll);
      unsubscribe();
      seq.close();
    };
  }
}
