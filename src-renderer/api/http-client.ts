import { ApiError, isApiErrorCode, type ApiErrorBody, type ApiErrorCode, type EngineEvent, type Health, type LogChunk, type LogMatch,
  type FreeSpaceReport, type FreeSpaceRequest, type KeptJobInfo, type RunRecords, type RunQuery, type RunReporting, type TriggerRequest } from '../../shared/api/engine-api.js';
import type { EngineInput, EngineSettings, RepositoryInput, RepositorySettings, ConnectInput, ConnectReport, ServerSettingsInput, SettingsView } from '../../shared/api/settings-types.js';
import type { ArtifactInfo, DeliveryRecord, LogLine, Page, RunDetail, RunSummary, ScheduleInfo, StorageMetrics } from '../../shared/model/run.js';
import type { LogGroup } from '../../shared/model/job-records.js';
import type { RunTestReport, RunTiming } from '../../shared/model/test-report.js';
import { LogSequencer } from '../../shared/api/log-sequencer.js';
import type { KilnClient } from './kiln-client.js';
import { TokenStore, type ClientAuth } from './api-token.js';

const EVENT_TYPES: readonly EngineEvent['type'][] = ['run', 'job', 'log', 'tunnel', 'delivery'];

function codeOfStatus(status: number): ApiErrorCode {
  if (status === 404) return 'NOT_FOUND';
  if (status === 400 || status === 422) return 'BAD_REQUEST';
  if (status === 409) return 'CONFLICT';
  if (status === 401 || status === 403) return 'UNAUTHORIZED';
  if (status === 503) return 'UNAVAILABLE';
  return 'INTERNAL';
}

function isErrorBody(x: unknown): x is ApiErrorBody {
  return typeof x === 'object' && x !== null && typeof (x as ApiErrorBody).message === 'string';
}

/** Query string from defined values only. */
function qs(params: Record<string, string | number | boolean | undefined>): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') sp.set(k, String(v));
  const s = sp.toString();
  return s ? `?${s}` : '';
}

/** `owner/name` as two path segments; a name without exactly one slash is left for the server to refuse. */
function repoPath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

/**
 * The browser transport: fetch for calls, EventSource for live events and log streams. Used when the
 * renderer is served by `kiln serve` (and by the end-to-end tests in Chromium).
 *
 * Beyond loopback the server wants the API token: calls carry it as `Authorization: Bearer`; what a
 * browser opens without headers (event streams, downloads, the terminal) carries a one-time ticket
 * minted just before (`POST /api/auth/tickets`), so the token itself is never in a URL. Any 401 tells
 * `auth`'s listeners, and the page shows its sign-in screen.
 */
export class HttpClient implements KilnClient {
  readonly transport = 'http' as const;
  readonly auth: ClientAuth;
  private events: { close(): void } | null = null;
  private readonly listeners = new Set<(event: EngineEvent) => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private readonly authListeners = new Set<(refused: boolean) => void>();

  /**
   * `session`: the per-install secret the server puts in the page (`<meta name="kiln-session">`); the
   * server refuses a browser's state-changing call without it, so no other origin can forge one.
   */
  constructor(
    private readonly base = '',
    private readonly session = globalThis.document?.querySelector<HTMLMetaElement>('meta[name="kiln-session"]')?.content,
    private readonly token = new TokenStore(),
  ) {
    const store = this.token;
    const listeners = this.authListeners;
    this.auth = {
      get signedIn() { return store.get() !== undefined; },
      signIn: (candidate) => this.signIn(candidate),
      signOut: () => store.clear(),
      onRequired(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
  }

  private headers(body: boolean, token = this.token.get()): Record<string, string> {
    return {
      accept: 'application/json',
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(this.session ? { 'x-kiln-session': this.session } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    };
  }

  /** One request with the candidate token; it is kept only when the server accepts it. */
  private async signIn(candidate: string): Promise<void> {
    if (candidate === '') throw new ApiError('BAD_REQUEST', 'enter the API token (server.api-token in kiln.config.yml)');
    let res: Response;
    try {
      res = await fetch(`${this.base}/api/health`, { headers: this.headers(false, candidate) });
    } catch (err) {
      throw new ApiError('UNAVAILABLE', `cannot reach the Kiln server: ${(err as Error).message}`);
    }
    if (res.status === 401) {
      // A server with no token at all (reached through a proxy) says so; no token typed here can help.
      const said = await res.json().then((b: { error?: { message?: unknown } }) => b.error?.message, () => undefined);
      if (typeof said === 'string' && said.includes('server.api-token is not set')) throw new ApiError('UNAVAILABLE', said);
      throw new ApiError('UNAUTHORIZED', 'the server refused this token: it is not its server.api-token');
    }
    if (!res.ok) throw new ApiError(codeOfStatus(res.status), `the server answered HTTP ${res.status}; try again`);
    this.token.set(candidate);
  }

  private unauthorized(): void {
    const refused = this.token.get() !== undefined;
    this.token.clear();
    for (const l of [...this.authListeners]) l(refused);
  }

  /**
   * The URL to open for a stream, a download or the terminal: with a one-time ticket for its path when
   * a token is in use (the token never goes into a URL), as is otherwise.
   */
  async authorizedUrl(url: string): Promise<string> {
    if (this.token.get() === undefined) return url;
    const path = url.slice(this.base.length).split('?')[0];
    const { ticket } = await this.call<{ ticket: string }>('POST', '/api/auth/tickets', { path });
    return `${url}${url.includes('?') ? '&' : '?'}auth_ticket=${encodeURIComponent(ticket)}`;
  }

  private async call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: this.headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError('UNAVAILABLE', `cannot reach the Kiln server: ${(err as Error).message}`);
    }
    if (res.status === 401) this.unauthorized();
    const text = await res.text();
    let json: unknown = undefined;
    if (text) {
      try { json = JSON.parse(text); } catch { json = undefined; }
    }
    if (!res.ok) {
      const error = (json as { error?: unknown } | undefined)?.error;
      if (isErrorBody(error)) throw new ApiError(isApiErrorCode(error.code) ? error.code : codeOfStatus(res.status), error.message);
      throw new ApiError(codeOfStatus(res.status), `${method} ${path}: HTTP ${res.status}${text && json === undefined ? ` ${text.slice(0, 200)}` : ''}`);
    }
    // Successful responses are plain JSON; tolerate an {ok:true,value} envelope too (Health itself has `ok`, hence the strict shape test).
    if (typeof json === 'object' && json !== null && (json as { ok?: unknown }).ok === true && 'value' in json && Object.keys(json).length === 2) {
      return (json as { value: T }).value;
    }
    return json as T;
  }

  listRuns(query: RunQuery): Promise<Page<RunSummary>> {
    return this.call('GET', `/api/runs${qs({ cursor: query.cursor, limit: query.limit, repo: query.repo, branch: query.branch, status: query.status })}`);
  }
  getRun(runId: string): Promise<RunDetail> {
    return this.call('GET', `/api/runs/${encodeURIComponent(runId)}`);
  }
  triggerRun(request: TriggerRequest): Promise<{ runIds: string[] }> {
    return this.call('POST', '/api/runs', request);
  }
  async cancelRun(runId: string): Promise<void> {
    await this.call('POST', `/api/runs/${encodeURIComponent(runId)}/cancel`, {});
  }
  rerun(runId: string, options: { failedOnly: boolean; debug?: boolean }): Promise<{ runId: string }> {
    return this.call('POST', `/api/runs/${encodeURIComponent(runId)}/rerun`, { failedOnly: options.failedOnly, ...(options.debug ? { debug: true } : {}) });
  }
  getLog(jobId: string, offset: number, limit?: number): Promise<LogChunk> {
    return this.call('GET', `/api/jobs/${encodeURIComponent(jobId)}/log${qs({ offset, limit })}`);
  }
  searchLog(jobId: string, query: string, limit?: number): Promise<LogMatch[]> {
    return this.call('GET', `/api/jobs/${encodeURIComponent(jobId)}/log/search${qs({ q: query, limit })}`);
  }
  getLogGroups(jobId: string, from?: number): Promise<LogGroup[]> {
    return this.call('GET', `/api/jobs/${encodeURIComponent(jobId)}/log/groups${qs({ from })}`);
  }
  getRunRecords(runId: string): Promise<RunRecords> {
    return this.call('GET', `/api/runs/${encodeURIComponent(runId)}/records`);
  }
  listArtifacts(runId: string): Promise<ArtifactInfo[]> {
    return this.call('GET', `/api/runs/${encodeURIComponent(runId)}/artifacts`);
  }
  listDeliveries(limit?: number): Promise<DeliveryRecord[]> {
    return this.call('GET', `/api/deliveries${qs({ limit })}`);
  }
  listRepositories(): Promise<RepositorySettings[]> {
    return this.call('GET', '/api/repositories');
  }
  freeSpace(request: FreeSpaceRequest): Promise<FreeSpaceReport> {
    return this.call('POST', '/api/storage/free', request);
  }

  storageMetrics(): Promise<StorageMetrics> {
    return this.call('GET', '/api/metrics/storage');
  }
  health(): Promise<Health> {
    return this.call('GET', '/api/health');
  }
  getSettings(): Promise<SettingsView> {
    return this.call('GET', '/api/settings');
  }
  saveRepository(input: RepositoryInput): Promise<RepositorySettings> {
    const { name, ...rest } = input;
    return this.call('PUT', `/api/repositories/${repoPath(name)}`, rest);
  }
  async removeRepository(name: string): Promise<void> {
    await this.call('DELETE', `/api/repositories/${repoPath(name)}`);
  }
  saveServerSettings(input: ServerSettingsInput): Promise<SettingsView> {
    return this.call('PUT', '/api/settings/server', input);
  }
  saveEngine(input: EngineInput): Promise<EngineSettings> {
    const { create, ...rest } = input;
    if (create) return this.call('POST', '/api/engines', rest);
    const { name, rename, ...fields } = rest;
    return this.call('PUT', `/api/engines/${encodeURIComponent(name)}`, rename !== undefined ? { ...fields, name: rename } : fields);
  }
  async removeEngine(name: string): Promise<void> {
    await this.call('DELETE', `/api/engines/${encodeURIComponent(name)}`);
  }
  connectRepository(input: ConnectInput): Promise<ConnectReport> {
    const { name, ...rest } = input;
    return this.call('POST', `/api/repositories/${repoPath(name)}/connect`, rest);
  }
  getTestReport(runId: string, search?: string): Promise<RunTestReport> {
    return this.call('GET', `/api/runs/${encodeURIComponent(runId)}/tests${qs({ q: search || undefined })}`);
  }
  getRunTiming(runId: string): Promise<RunTiming> {
    return this.call('GET', `/api/runs/${encodeURIComponent(runId)}/timing`);
  }
  getRunReporting(runId: string): Promise<RunReporting> {
    return this.call('GET', `/api/runs/${encodeURIComponent(runId)}/reporting`);
  }
  listKeptJobs(): Promise<KeptJobInfo[]> {
    return this.call('GET', '/api/debug/jobs');
  }
  extendDebug(jobId: string, minutes?: number): Promise<KeptJobInfo> {
    return this.call('POST', `/api/jobs/${encodeURIComponent(jobId)}/debug/extend`, minutes === undefined ? {} : { minutes });
  }
  async endDebug(jobId: string, by?: 'dashboard' | 'api'): Promise<void> {
    await this.call('POST', `/api/jobs/${encodeURIComponent(jobId)}/debug/end`, by === undefined ? undefined : { by });
  }
  rerunFailedStep(jobId: string): Promise<{ exitCode: number }> {
    return this.call('POST', `/api/jobs/${encodeURIComponent(jobId)}/debug/rerun-step`);
  }
  async terminalUrl(jobId: string): Promise<string> {
    const base = this.base || globalThis.location?.origin || '';
    const path = `/api/jobs/${encodeURIComponent(jobId)}/terminal`;
    const query = this.token.get() === undefined ? '' : (await this.authorizedUrl(`${this.base}${path}`)).slice(this.base.length + path.length);
    return `${base.replace(/^http/, 'ws')}${path}${query}`;
  }
  async approveJob(jobId: string, options: { by?: string } = {}): Promise<void> {
    await this.call('POST', `/api/jobs/${encodeURIComponent(jobId)}/approve`, options);
  }
  async rejectJob(jobId: string, options: { by?: string } = {}): Promise<void> {
    await this.call('POST', `/api/jobs/${encodeURIComponent(jobId)}/reject`, options);
  }
  listSchedules(): Promise<ScheduleInfo[]> {
    return this.call('GET', '/api/schedules');
  }
  artifactUrl(artifactId: string): string {
    return `${this.base}/api/artifacts/${encodeURIComponent(artifactId)}/download`;
  }
  rawLogUrl(jobId: string): string {
    return `${this.base}/api/jobs/${encodeURIComponent(jobId)}/log/raw`;
  }

  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    this.events ??= this.openEvents();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.events) {
        this.events.close();
        this.events = null;
      }
    };
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => { this.reconnectListeners.delete(listener); };
  }

  /**
   * The live event stream. Without a token the EventSource reconnects by itself; with one, each
   * connection needs a fresh ticket, so a dropped stream is closed and opened again here.
   */
  private openEvents(): { close(): void } {
    let closed = false;
    let es: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    // Every open is announced, the first one too: a view fetches as it mounts, before the stream is
    // open, and whatever happened in between (or while the stream was down: a server restart that
    // failed or re-queued jobs) sent events nobody heard.
    const dispatch = (e: MessageEvent<string>): void => {
      let event: EngineEvent;
      try { event = JSON.parse(e.data) as EngineEvent; } catch { return; }
      if (!event || typeof event !== 'object' || !EVENT_TYPES.includes(event.type)) return;
      for (const l of [...this.listeners]) l(event);
    };
    const again = (): void => {
      if (closed) return;
      failures++;
      retry = setTimeout(() => void connect(), Math.min(5000, 250 * 2 ** Math.min(failures, 5)));
    };
    const connect = async (): Promise<void> => {
      let url: string;
      try {
        url = await this.authorizedUrl(`${this.base}/api/events`);
      } catch {
        again();
        return;
      }
      if (closed) return;
      const source = new EventSource(url);
      es = source;
      source.onopen = () => {
        failures = 0;
        for (const l of [...this.reconnectListeners]) l();
      };
      source.onmessage = dispatch;
      for (const type of EVENT_TYPES) source.addEventListener(type, dispatch as EventListener);
      source.onerror = () => {
        // Live events are a hint to refetch, so nothing to resume.
        if (!url.includes('auth_ticket=') && source.readyState !== EventSource.CLOSED) return;
        source.close();
        if (es === source) again();
      };
    };
    void connect();
    return {
      close() {
        closed = true;
        clearTimeout(retry);
        es?.close();
      },
    };
  }

  followLog(jobId: string, fromSeq: number, onLines: (lines: LogLine[]) => void, onEnd: () => void): () => void {
    let stopped = false;
    let ended = false;
    let es: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    // The shared sequencer drops what a reconnect replays and fills a hole from the paged API.
    const seq = new LogSequencer({
      from: fromSeq,
      fetchRange: async (from, count) => (await this.getLog(jobId, from, count)).lines,
      emit: (lines) => { if (!stopped) onLines(lines); },
    });
    const finish = async (): Promise<void> => {
      if (ended) return;
      ended = true;
      es?.close();
      // Lines the stream may not have carried (e.g. it ended during a reconnect): take them from the paged API.
      try {
        await seq.readPages((offset) => this.getLog(jobId, offset));
      } catch { /* the stream already delivered what it could */ }
      if (!stopped) onEnd();
    };
    const connect = async (): Promise<void> => {
      if (stopped || ended) return;
      // Always resume explicitly from the sequencer's position: no gap, and it drops any replayed line.
      let url: string;
      try {
        url = await this.authorizedUrl(`${this.base}/api/jobs/${encodeURIComponent(jobId)}/log/stream${qs({ offset: seq.nextSeq })}`);
      } catch {
        failures++;
        retry = setTimeout(() => void connect(), Math.min(5000, 250 * 2 ** Math.min(failures, 5)));
        return;
      }
      if (stopped || ended) return;
      const source = new EventSource(url);
      es = source;
      source.onopen = () => { failures = 0; };
      source.onmessage = (e: MessageEvent<string>) => {
        try { seq.push([JSON.parse(e.data) as LogLine]); } catch { /* ignore a malformed event */ }
      };
      source.addEventListener('end', () => { void seq.whenIdle().then(finish); });
      source.onerror = () => {
        source.close();
        if (stopped || ended || es !== source) return;
        failures++;
        retry = setTimeout(() => void connect(), Math.min(5000, 250 * 2 ** Math.min(failures, 5)));
      };
    };
    void connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      es?.close();
      seq.close();
    };
  }
}
