import {
  ApiError, type EngineApi, type Health, type LogChunk, type LogMatch, type RepositoryInput, type RepositorySettings, type RunQuery,
  type ConnectInput, type ConnectReport, type RunReporting, type ServerSettingsInput, type SettingsView, type TriggerRequest,
} from '../../shared/api/engine-api.js';
import type { ArtifactInfo, DeliveryRecord, LogLine, Page, RunDetail, RunSummary, StorageMetrics } from '../../shared/model/run.js';

/** A small, honest EngineApi over memory: enough to drive the IPC layer through every method. */
export class MemoryEngine implements EngineApi {
  runs: RunDetail[] = [];
  logs = new Map<string, LogLine[]>();
  calls: Array<{ method: string; args: unknown[] }> = [];

  private note(method: string, args: unknown[]): void {
    this.calls.push({ method, args });
  }

  async listRuns(query: RunQuery): Promise<Page<RunSummary>> {
    this.note('listRuns', [query]);
    const items = this.runs.filter((r) => !query.repo || r.repo === query.repo);
    const start = query.cursor ? Number(query.cursor) : 0;
    const limit = query.limit ?? 50;
    const page = items.slice(start, start + limit);
    return { items: page, nextCursor: start + limit < items.length ? String(start + limit) : undefined };
  }
  async getRun(runId: string): Promise<RunDetail> {
    this.note('getRun', [runId]);
    const run = this.runs.find((r) => r.id === runId);
    if (!run) throw new ApiError('NOT_FOUND', `run '${runId}' does not exist`);
    return run;
  }
  async triggerRun(request: TriggerRequest): Promise<{ runIds: string[] }> {
    this.note('triggerRun', [request]);
    if (!request.repo) throw new ApiError('BAD_REQUEST', 'repo is required');
    const id = `run-${this.runs.length + 1}`;
    this.runs.push({ id, number: this.runs.length + 1, repo: request.repo, pipeline: 'p', event: 'manual', branch: request.branch, sha: request.sha ?? '0'.repeat(40), priority: 'normal', status: 'queued', createdAt: Date.now(), jobs: [], edges: [], stages: [] });
    return { runIds: [id] };
  }
  async cancelRun(runId: string): Promise<void> {
    this.note('cancelRun', [runId]);
    const run = await this.getRun(runId);
    run.status = 'cancelled';
  }
  async rerun(runId: string, options: { failedOnly: boolean }): Promise<{ runId: string }> {
    this.note('rerun', [runId, options]);
    const run = await this.getRun(runId);
    const { runIds } = await this.triggerRun({ repo: run.repo, branch: run.branch });
    return { runId: runIds[0] };
  }
  async getLog(jobId: string, offset: number, limit = 1000): Promise<LogChunk> {
    this.note('getLog', [jobId, offset, limit]);
    const all = this.logs.get(jobId);
    if (!all) throw new ApiError('NOT_FOUND', `job '${jobId}' does not exist`);
    const lines = all.slice(offset, offset + limit);
    const nextOffset = offset + lines.length;
    return { lines, nextOffset, total: all.length, complete: nextOffset >= all.length };
  }
  async searchLog(jobId: string, query: string, limit = 100): Promise<LogMatch[]> {
    this.note('searchLog', [jobId, query, limit]);
    return (this.logs.get(jobId) ?? []).filter((l) => l.text.includes(query)).slice(0, limit).map((l) => ({ seq: l.seq, step: l.step, text: l.text }));
  }
  async listArtifacts(runId: string): Promise<ArtifactInfo[]> {
    this.note('listArtifacts', [runId]);
    return [{ id: 'a1', runId, jobId: 'j1', path: 'dist/app.txt', size: 5, sha256: 'x', createdAt: 1 }];
  }
  async listDeliveries(limit?: number): Promise<DeliveryRecord[]> {
    this.note('listDeliveries', [limit]);
    return [];
  }
  async listRepositories(): Promise<RepositorySettings[]> {
    this.note('listRepositories', []);
    return [{ name: 'acme/web', url: '/srv/web.git', defaultBranch: 'main', secretNames: [], webhookSecretCount: 1 }];
  }
  async storageMetrics(): Promise<StorageMetrics> {
    this.note('storageMetrics', []);
    return { artifactBytes: 1, artifactCount: 1, cacheBytes: 0, cacheEntries: 0, cacheHits: 0, cacheMisses: 0, cacheHitRate: 0, workspaceBytes: 0, logBytes: 0, diskFreeBytes: 1, diskTotalBytes: 2 };
  }
  async health(): Promise<Health> {
    this.note('health', []);
    return { ok: true, version: 'test', docker: { ok: true }, tunnel: { state: 'disabled' }, queue: { queued: 0, running: 0 } };
  }
  repos: RepositorySettings[] = [{ name: 'acme/web', url: '/srv/web.git', defaultBranch: 'main', secretNames: [], webhookSecretCount: 1 }];
  private settingsView(): SettingsView {
    return {
      configFile: '/tmp/kiln.config.yml', tunnel: { url: null, state: { state: 'disabled' } }, concurrency: { jobs: 4, perRepository: 2 },
      retention: { artifactsMs: 1, cachesMs: 1, cacheSizeBytes: 1, workspacesMs: 1 }, repositories: this.repos,
    };
  }
  async getSettings(): Promise<SettingsView> {
    this.note('getSettings', []);
    return this.settingsView();
  }
  async saveRepository(input: RepositoryInput): Promise<RepositorySettings> {
    this.note('saveRepository', [input]);
    if (!input.url && !this.repos.some((r) => r.name === input.name)) throw new ApiError('BAD_REQUEST', `repositories[${input.name}].url: required for a new repository`);
    const repo = { name: input.name, url: input.url ?? '', defaultBranch: input.defaultBranch ?? 'main', secretNames: Object.keys(input.secrets ?? {}), webhookSecretCount: input.addWebhookSecrets?.length ?? 0 };
    this.repos = [...this.repos.filter((r) => r.name !== input.name), repo];
    return repo;
  }
  async removeRepository(name: string): Promise<void> {
    this.note('removeRepository', [name]);
    this.repos = this.repos.filter((r) => r.name !== name);
  }
  async saveServerSettings(input: ServerSettingsInput): Promise<SettingsView> {
    this.note('saveServerSettings', [input]);
    return this.settingsView();
  }

  async getRunReporting(runId: string): Promise<RunReporting> {
    this.note('getRunReporting', [runId]);
    return { enabled: false, summary: 'no forge token is set for this repository', statuses: [] };
  }

  async connectRepository(input: ConnectInput): Promise<ConnectReport> {
    this.note('connectRepository', [input]);
    return { ok: false, steps: [] };
  }
}
