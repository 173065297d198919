/**
 * The logs half of the engine API: pages of a job's log and searches in it (storage/log-store.ts),
 * and what the jobs produced besides lines: log groups, annotations, summaries (storage/job-record-store.ts).
 */
import { ApiError } from '../../shared/api/engine-api.js';
import type { LogChunk, LogMatch, RunRecords } from '../../shared/api/engine-api.js';
import type { LogGroup } from '../../shared/model/job-records.js';
import { isTerminal } from '../../shared/model/status.js';
import type { EngineParts } from './parts.js';

export class LogsService {
  constructor(private readonly p: Pick<EngineParts, 'runs' | 'logs' | 'records'>) {}

  async getLog(jobId: string, offset: number, limit = 1000): Promise<LogChunk> {
    const job = this.p.runs.getJob(jobId);
    if (!job) throw new ApiError('NOT_FOUND', `job '${jobId}' does not exist`);
    if (!Number.isFinite(offset) || offset < 0) throw new ApiError('BAD_REQUEST', `offset must be a number ≥ 0, got '${offset}'`);
    const lines = await this.p.logs.read(jobId, offset, Math.min(10_000, Math.max(1, Math.floor(limit))));
    const total = this.p.logs.count(jobId);
    const nextOffset = lines.length ? lines[lines.length - 1].seq + 1 : Math.min(Math.floor(offset), total);
    return { lines, nextOffset, total, complete: isTerminal(job.status) && nextOffset >= total };
  }

  async searchLog(jobId: string, query: string, limit = 100): Promise<LogMatch[]> {
    if (!this.p.runs.getJob(jobId)) throw new ApiError('NOT_FOUND', `job '${jobId}' does not exist`);
    return this.p.logs.search(jobId, query, Math.min(1000, Math.max(1, Math.floor(limit))));
  }

  async getLogGroups(jobId: string, from = 0): Promise<LogGroup[]> {
    if (!this.p.runs.getJob(jobId)) throw new ApiError('NOT_FOUND', `job '${jobId}' does not exist`);
    if (!Number.isFinite(from) || from < 0) throw new ApiError('BAD_REQUEST', `from must be a number ≥ 0, got '${from}'`);
    return this.p.records.groups(jobId, Math.floor(from));
  }

  async getRunRecords(runId: string): Promise<RunRecords> {
    if (!this.p.runs.getRun(runId)) throw new ApiError('NOT_FOUND', `run '${runId}' does not exist`);
    return { annotations: this.p.records.annotations(runId), summaries: this.p.records.summaries(runId) };
  }
}
