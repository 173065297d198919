/**
 * `testConfig` builds a KilnConfig for tests (used with the real Engine across the suite).
 *
 * `StubEngine` is a small KilnEngine over a real temp SQLite database whose runs, logs and events the
 * test puts in directly. The HTTP tests (api, badges, log stream) use the real Engine; the stub remains
 * only where a test needs control the real engine does not give: an engine whose handleEvent throws
 * and then recovers (test/trigger/webhook-http.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError } from '../../../shared/api/engine-api.js';
import type { EngineEvent, Health, LogChunk, LogMatch, RepositorySettings, RunQuery, SettingsView, TriggerRequest, TunnelState } from '../../../shared/api/engine-api.js';
import type { ArtifactInfo, DeliveryRecord, LogLine, Page, RunDetail, RunSummary, StorageMetrics } from '../../../shared/model/run.js';
import type { Status } from '../../../shared/model/status.js';
import type { TriggerEvent } from '../../../shared/model/trigger-event.js';
import type { AcceptedDelivery, KilnConfig, KilnEngine, RepositoryConfig, TriggerOutcome } from '../../../src-main/engine-contract.js';
import { openDatabase } from '../../../src-main/storage/db.js';
import type { Db } from '../../../src-main/storage/db.js';
import { GroupCommit } from '../../../src-main/storage/group-commit.js';
import { DeliveryStore } from '../../../src-main/storage/delivery-store.js';

export function testConfig(repositories: Partial<RepositoryConfig>[], overrides: Partial<KilnConfig> = {}): KilnConfig {
  return {
    server: { host: '127.0.0.1', port: 0 },
    concurrency: { jobs: 2, perRepository: 2 },
    retention: { artifactsMs: 30 * 86_400_000, cachesMs: 30 * 86_400_000, cacheSizeBytes: 1e9, workspacesMs: 86_400_000 },
    webhooks: { maxAgeMs: 5 * 60_000, replayWindowMs: 3 * 86_400_000, maxBodyBytes: 5 * 1024 * 1024 },
    ...overrides,
    repositories: repositories.map((r) => ({
      name: 'acme/web', url: '/nonexistent', defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {}, ...r,
    })),
  };
}

export class StubEngine implements KilnEngine {
  readonly db: Db;
  readonly commits: GroupCommit;
  readonly deliveries: DeliveryStore;
  readonly events: TriggerEvent[] = [];
  readonly runs: RunDetail[] = [];
  readonly logs = new Map<string, { lines: LogLine[]; complete: boolean }>();
  tunnel: TunnelState = { state: 'disabled' };
  /** What handleEvent answers; default: one new run id per event. */
  onEvent: (event: TriggerEvent) => Promise<TriggerOutcome> = async (event) => ({ runIds: [`run-${this.events.length}-${event.sha.slice(0, 7)}`] });
  private readonly listeners = new Set<(event: EngineEvent) => void>();
  private stopped = false;

  constructor(readonly config: KilnConfig, readonly dataDir = mkdtempSync(join(tmpdir(), 'kiln-http-test-'))) {
    this.db = openDatabase(join(dataDir, 'kiln.db'));
    this.commits = new GroupCommit(this.db);
    this.deliveries = new DeliveryStore(this.db, this.commits);
  }

  /** As the Engine: runs are "stored" by onEvent; the delivery is written in a group-commit write with them. */
  async handleEvent(event: TriggerEvent, delivery?: AcceptedDelivery): Promise<TriggerOutcome & { delivery?: DeliveryRecord }> {
    this.events.push(event);
    const outcome = await this.onEvent(event);
    if (!delivery || outcome.runIds.length === 0) return outcome;
    const record = await this.commits.write(() => this.deliveries.record({
      deliveryId: delivery.deliveryId, event: delivery.event, repo: event.repo, receivedAt: delivery.receivedAt, outcome: 'accepted', httpStatus: 202,
      runIds: outcome.runIds, bodySha256: delivery.bodySha256, remember: true,
      reason: `${delivery.summary}: ${outcome.runIds.length} run(s) queued${outcome.reason ? `; ${outcome.reason}` : ''}`,
    }));
    return { ...outcome, delivery: record };
  }

  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: EngineEvent): void {
    for (const l of this.listeners) l(event);
  }

  listenerCount(): number {
    return this.listeners.size;
  }

  setTunnelState(state: TunnelState): void {
    this.tunnel = state;
    this.publish({ type: 'tunnel', tunnel: state });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.commits.drain();
    this.db.close();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Test helper: a run with one job, whose status the test sets. */
  addRun(fields: Partial<RunSummary> & { repo: string }, status: Status = 'passed'): RunDetail {
    const n = this.runs.length + 1;
    const run: RunDetail = {
      id: `r${n}`, number: n, pipeline: 'ci', event: 'push', sha: 'a'.repeat(40), priority: 'normal', status,
      createdAt: 1_000 + n, jobs: [], edges: [], stages: [], ...fields,
    };
    this.runs.push(run);
    return run;
  }

  /** Test helper: appends log lines to a job (and publishes them, as the engine does after storing them). */
  appendLog(jobId: string, texts: string[]): LogLine[] {
    const log = this.logs.get(jobId) ?? { lines: [], complete: false };
    this.logs.set(jobId, log);
    const lines = texts.map((text, i) => ({ seq: log.lines.length + i, ts: Date.now(), stream: 'stdout' as const, step: 0, text }));
    log.lines.push(...lines);
    this.publish({ type: 'log', jobId, lines });
    return lines;
  }

  finishJob(jobId: string, status: Status = 'passed'): void {
    const log = this.logs.get(jobId) ?? { lines: [], complete: false };
    log.complete = true;
    this.logs.set(jobId, log);
    this.publish({ type: 'job', runId: 'r', jobId, status });
  }

  async listRuns(query: RunQuery): Promise<Page<RunSummary>> {
    const all = [...this.runs].reverse().filter((r) =>
      (!query.repo || r.repo === query.repo) && (!query.branch || r.branch === query.branch) && (!query.status || r.status === query.status));
    const start = query.cursor ? Number(query.cursor) : 0;
    const limit = query.limit ?? 50;
    const items = all.slice(start, start + limit);
    return start + limit < all.length ? { items, nextCursor: String(start + limit) } : { items };
  }

  async getRun(runId: string): Promise<RunDetail> {
    const run = this.runs.find((r) => r.id === runId);
    if (!run) throw new ApiError('NOT_FOUND', `run ${runId} does not exist`);
    return run;
  }

  async triggerRun(request: TriggerRequest): Promise<{ runIds: string[] }> {
    if (!this.config.repositories.some((r) => r.name === request.repo)) throw new ApiError('NOT_FOUND', `unknown repository ${request.repo}`);
    const run = this.addRun({ repo: request.repo, branch: request.branch, sha: request.sha ?? 'b'.repeat(40), event: 'manual' }, 'queued');
    return { runIds: [run.id] };
  }

  async cancelRun(runId: string): Promise<void> {
    (await this.getRun(runId)).status = 'cancelled';
  }

  async rerun(runId: string, options: { failedOnly: boolean }): Promise<{ runId: string }> {
    const old = await this.getRun(runId);
    return { runId: this.addRun({ repo: old.repo, branch: old.branch, error: options.failedOnly ? 'failed-only' : undefined }, 'queued').id };
  }

  async getLog(jobId: string, offset: number, limit = 1000): Promise<LogChunk> {
    const log = this.logs.get(jobId);
    if (!log) throw new ApiError('NOT_FOUND', `job ${jobId} does not exist`);
    const lines = log.lines.slice(offset, offset + limit);
    const nextOffset = offset + lines.length;
    return { lines, nextOffset, complete: log.complete && nextOffset >= log.lines.length };
  }

  async searchLog(jobId: string, query: string): Promise<LogMatch[]> {
    const log = this.logs.get(jobId);
    if (!log) throw new ApiError('NOT_FOUND', `job ${jobId} does not exist`);
    return log.lines.filter((l) => l.text.includes(query)).map((l) => ({ seq: l.seq, step: l.step, text: l.text }));
  }

  async listArtifacts(runId: string): Promise<ArtifactInfo[]> {
    await this.getRun(runId);
    return [];
  }

  async listDeliveries(limit?: number): Promise<DeliveryRecord[]> {
    return this.deliveries.list(limit);
  }

  async listRepositories(): Promise<RepositorySettings[]> {
    return this.config.repositories.map((r) => ({
      name: r.name, url: r.url, defaultBranch: r.defaultBranch, secretNames: Object.keys(r.secrets), webhookSecretCount: r.webhookSecrets.length,
    }));
  }

  async storageMetrics(): Promise<StorageMetrics> {
    return { artifactBytes: 0, artifactCount: 0, cacheBytes: 0, cacheEntries: 0, cacheHits: 0, cacheMisses: 0, cacheHitRate: 0, workspaceBytes: 0, logBytes: 0, diskFreeBytes: 1, diskTotalBytes: 2 };
  }

  async health(): Promise<Health> {
    return { ok: true, version: 'test', docker: { ok: true }, tunnel: this.tunnel, queue: { queued: 0, running: 0 } };
  }

  async getSettings(): Promise<SettingsView> {
    return { configFile: join(this.dataDir, 'kiln.config.yml'), tunnel: { url: this.config.tunnel?.url ?? null, state: this.tunnel }, concurrency: { ...this.config.concurrency }, retention: { ...this.config.retention }, repositories: await this.listRepositories() };
  }

  // The stub stands in where a test controls the engine by hand; saving settings is the real Engine's (test/http/settings-api.test.ts).
  async saveRepository(): Promise<RepositorySettings> {
    throw new ApiError('UNAVAILABLE', 'the stub engine does not save settings');
  }

  async removeRepository(): Promise<void> {
    throw new ApiError('UNAVAILABLE', 'the stub engine does not save settings');
  }

  async saveServerSettings(): Promise<SettingsView> {
    throw new ApiError('UNAVAILABLE', 'the stub engine does not save settings');
  }
}
