/**
 * Debug mode's two tables: which runs were started "with debug" (debug_runs), and which failed
 * jobs are kept up for debugging (kept_jobs: container, deadline, and the queue claim that kept it,
 * so that a restart after a crash can record the job's failure and adopt or remove the container).
 * Every method is one statement; no secret is stored (the step's environment lives in the container).
 */
import type { Db } from './db.js';

export interface KeptJobRow {
  job_id: string;
  run_id: string;
  container_id: string;
  job_key: string;
  step_index: number;
  step_name: string;
  kept_at: number;
  deadline: number;
  claim_token: number;
  attempt: number;
  error: string | null;
  /** 1 once its engine is no longer configured: it holds no slot, only its record stays. */
  stranded?: number;
  /** `docker info`'s ID of the Docker that keeps its container; null until known. */
  docker_id?: string | null;
}

export class DebugStore {
  private readonly insertRun;
  private readonly selectRun;
  private readonly upsertKept;
  private readonly selectKept;
  private readonly selectAllKept;
  private readonly updateDeadline;
  private readonly deleteKept;
  private readonly updateStranded;
  private readonly updateDockerId;

  constructor(db: Db) {
    this.insertRun = db.prepare('INSERT OR IGNORE INTO debug_runs (run_id, created_at) VALUES (?, ?)');
    this.selectRun = db.prepare('SELECT 1 FROM debug_runs WHERE run_id = ?');
    this.upsertKept = db.prepare(`INSERT OR REPLACE INTO kept_jobs (job_id, run_id, container_id, job_key, step_index, step_name, kept_at, deadline, claim_token, attempt, error, stranded, docker_id)
      VALUES (@job_id, @run_id, @container_id, @job_key, @step_index, @step_name, @kept_at, @deadline, @claim_token, @attempt, @error, @stranded, @docker_id)`);
    this.selectKept = db.prepare('SELECT * FROM kept_jobs WHERE job_id = ?');
    this.selectAllKept = db.prepare('SELECT * FROM kept_jobs ORDER BY kept_at');
    this.updateDeadline = db.prepare('UPDATE kept_jobs SET deadline = ? WHERE job_id = ?');
    this.deleteKept = db.prepare('DELETE FROM kept_jobs WHERE job_id = ?');
    this.updateStranded = db.prepare('UPDATE kept_jobs SET stranded = ? WHERE job_id = ?');
    this.updateDockerId = db.prepare('UPDATE kept_jobs SET docker_id = ? WHERE job_id = ?');
  }

  markDebugRun(runId: string, at: number): void {
    this.insertRun.run(runId, at);
  }

  isDebugRun(runId: string): boolean {
    return this.selectRun.get(runId) !== undefined;
  }

  keep(row: KeptJobRow): void {
    this.upsertKept.run({ ...row, stranded: row.stranded ?? 0, docker_id: row.docker_id ?? null });
  }

  kept(jobId: string): KeptJobRow | undefined {
    return this.selectKept.get(jobId) as KeptJobRow | undefined;
  }

  allKept(): KeptJobRow[] {
    return this.selectAllKept.all() as KeptJobRow[];
  }

  setDeadline(jobId: string, deadline: number): void {
    this.updateDeadline.run(deadline, jobId);
  }

  /** Its engine cannot be reached: the row stays, holding no slot (JobQueue's SLOT_HOLDERS); false when adopted again. */
  strand(jobId: string, stranded = true): void {
    this.updateStranded.run(stranded ? 1 : 0, jobId);
  }

  setDockerId(jobId: string, dockerId: string): void {
    this.updateDockerId.run(dockerId, jobId);
  }

  release(jobId: string): void {
    this.deleteKept.run(jobId);
  }
}
