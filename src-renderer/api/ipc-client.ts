import { ApiError, isApiErrorCode, type EngineApi, type EngineEvent, type Envelope, type KilnBridge, type RunReporting } from '../../shared/api/engine-api.js';
import type { ConnectInput, ConnectReport } from '../../shared/api/settings-types.js';
import { followJobLog } from '../../shared/api/log-follower.js';
import type { LogLine } from '../../shared/model/run.js';
import type { KilnClient } from './kiln-client.js';

/** Rebuilds the main process's envelope as a value or an ApiError (errors never cross as exceptions). */
export function unwrap<T>(envelope: Envelope<unknown>): T {
  if (envelope.ok) return envelope.value as T;
  const code = isApiErrorCode(envelope.error.code) ? envelope.error.code : 'INTERNAL';
  throw new ApiError(code, envelope.error.message);
}

type Method = keyof EngineApi;

/**
 * The Electron transport: every call goes through the preload's one generic `invoke`; live events
 * (including log lines) arrive through `onEvent`. Downloads use the embedded HTTP server's URLs.
 */
export class IpcClient implements KilnClient {
  readonly transport = 'ipc' as const;
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
  getLogGroups: EngineApi['getLogGroups'] = (id, from) => this.call('getLogGroups', id, from);
  getRunRecords: EngineApi['getRunRecords'] = (runId) => this.call('getRunRecords', runId);
  listArtifacts: EngineApi['listArtifacts'] = (id) => this.call('listArtifacts', id);
  listDeliveries: EngineApi['listDeliveries'] = (limit) => this.call('listDeliveries', limit);
  listRepositories: EngineApi['listRepositories'] = () => this.call('listRepositories');
  storageMetrics: EngineApi['storageMetrics'] = () => this.call('storageMetrics');
  freeSpace: EngineApi['freeSpace'] = (request) => this.call('freeSpace', request);
  health: EngineApi['health'] = () => this.call('health');
  getSettings: EngineApi['getSettings'] = () => this.call('getSettings');
  saveRepository: EngineApi['saveRepository'] = (input) => this.call('saveRepository', input);
  removeRepository: EngineApi['removeRepository'] = (name) => this.call('removeRepository', name);
  saveServerSettings: EngineApi['saveServerSettings'] = (input) => this.call('saveServerSettings', input);
  saveEngine: EngineApi['saveEngine'] = (input) => this.call('saveEngine', input);
  removeEngine: EngineApi['removeEngine'] = (name) => this.call('removeEngine', name);
  getRunReporting = (runId: string): Promise<RunReporting> => this.call('getRunReporting', runId);
  getTestReport: EngineApi['getTestReport'] = (id, search) => this.call('getTestReport', id, search);
  getRunTiming: EngineApi['getRunTiming'] = (id) => this.call('getRunTiming', id);
  connectRepository = (input: ConnectInput): Promise<ConnectReport> => this.call('connectRepository', input);
  listKeptJobs: EngineApi['listKeptJobs'] = () => this.call('listKeptJobs');
  extendDebug: EngineApi['extendDebug'] = (jobId, minutes) => this.call('extendDebug', jobId, minutes);
  endDebug: EngineApi['endDebug'] = (jobId) => this.call('endDebug', jobId);
  rerunFailedStep: EngineApi['rerunFailedStep'] = (jobId) => this.call('rerunFailedStep', jobId);

  /** The embedded server's terminal WebSocket with a one-time ticket from main (the app's page is not the server's origin). */
  terminalUrl(jobId: string): Promise<string> {
    return this.request<string>('terminalUrl', [jobId]);
  }
  approveJob: EngineApi['approveJob'] = (id, o) => this.call('approveJob', id, o);
  rejectJob: EngineApi['rejectJob'] = (id, o) => this.call('rejectJob', id, o);
  listSchedules: EngineApi['listSchedules'] = () => this.call('listSchedules');

  artifactUrl(artifactId: string): string {
    return `${this.serverBase}/api/artifacts/${encodeURIComponent(artifactId)}/download`;
  }
  rawLogUrl(jobId: string): string {
    return `${this.serverBase}/api/jobs/${encodeURIComponent(jobId)}/log/raw`;
  }

  subscribe(listener: (event: EngineEvent) => void): () => void {
    return this.bridge.onEvent(listener);
  }

  /**
   * Pages through the engine's getLog, then live 'log' events, with the same follower as the SSE
   * route; it re-reads the pages every few seconds as a safety net for an event lost on the bridge.
   */
  followLog(jobId: string, fromSeq: number, onLines: (lines: LogLine[]) => void, onEnd: () => void): () => void {
    return followJobLog(
      { getLog: (offset, limit) => this.getLog(jobId, offset, limit), subscribe: (listener) => this.bridge.onEvent(listener) },
      { jobId, from: fromSeq, onLines, onEnd: () => onEnd(), pollMs: 3000 },
    );
  }
}
