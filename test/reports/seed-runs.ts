/** Minimal runs and jobs rows for report-store tests (the report tables hang off runs). */
import type { Db } from '../../src-main/storage/db.js';

export function seedRun(db: Db, run: { id: string; number?: number; repo?: string; branch?: string; sha?: string; createdAt?: number; jobs?: Array<{ id: string; planId: string }> }): void {
  db.prepare(`INSERT INTO runs (id, number, repo, pipeline, event, branch, sha, status, plan_json, created_at)
    VALUES (?, ?, ?, 'ci', 'push', ?, ?, 'passed', '{"jobs":[]}', ?)`)
    .run(run.id, run.number ?? 1, run.repo ?? 'acme/web', run.branch ?? 'main', run.sha ?? 'a'.repeat(40), run.createdAt ?? Date.now());
  (run.jobs ?? []).forEach((j, i) => {
    db.prepare(`INSERT INTO jobs (id, run_id, plan_id, name, position, status) VALUES (?, ?, ?, ?, ?, 'passed')`).run(j.id, run.id, j.planId, j.planId, i);
  });
}
