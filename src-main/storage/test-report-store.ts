/**
 * Test reports: the JUnit XML files a job declares (`reports: { junit: [globs] }`), collected after
 * its steps, parsed while they stream out of the container, and kept as rows: totals per file, every
 * case (failed and errored ones with message and output, bounded), and flaky tests per branch.
 *
 * Collection (report-files.ts, shared with `kiln run`) follows the artifact rules exactly: the workspace is read through
 * the container's archive API, patterns are workspace-relative (absolute ones and `..` are refused),
 * links are never followed, only regular files are read. A report is an observation, not a
 * product: a refused pattern, a malformed file or a file over the size limit is logged and recorded
 * with its reason, and fails nothing — not the job, not the other files.
 *
 * Flaky: when a job's report is stored, the earlier runs of the same repository and commit are
 * asked which cases of the same planned job failed there; those that pass now are recorded as flaky
 * on the branch (failed, then passed, on the same commit).
 */
import type { FlakyTest, RunTestReport, TestCaseInfo, TestFileInfo, TestTotals } from '../../shared/model/test-report.js';
import type { JobContainer } from '../core/job-contract.js';
import type { Db } from './db.js';
import { type ParsedCase, type ParseLimits, DEFAULT_PARSE_LIMITS } from './junit-parser.js';
import { DEFAULT_MAX_JOB_REPORT_BYTES, readReportFiles, sumTotals } from './report-files.js';

/**
 * Cases held before they are inserted (one short transaction per batch) while a report streams: at
 * most this many, or this many characters of message and output. Held cases outlive the young
 * generation's scavenges, and V8 answers a high survival rate by doubling the young generation: with
 * 5,000 cases held, the 100,000-case benchmark's heap grew from 23 MB to 50 MB.
 */
const CASE_BATCH = 500;
const CASE_BATCH_CHARS = 1_000_000;

export interface TestReportStoreOptions {
  maxJobBytes?: number;
  limits?: ParseLimits;
  now?: () => number;
}

export interface CollectReportsRequest {
  container: JobContainer;
  runId: string;
  jobId: string;
  patterns: string[];
  log: (text: string) => void;
  /** Whether the attempt collecting still holds the job; once false nothing more is stored. Default: always. */
  current?: () => boolean;
}

interface CaseRow {
  job_id: string;
  file: string;
  suite: string;
  classname: string;
  name: string;
  status: TestCaseInfo['status'];
  duration_ms: number | null;
  message: string | null;
  output: string | null;
}

interface FileRow extends Omit<TestTotals, 'durationMs'> {
  job_id: string;
  file: string;
  duration_ms: number;
  problem: string | null;
}

const toCase = (r: CaseRow): TestCaseInfo => {
  const c: TestCaseInfo = { jobId: r.job_id, file: r.file, suite: r.suite, classname: r.classname, name: r.name, status: r.status };
  if (r.duration_ms !== null) c.durationMs = r.duration_ms;
  if (r.message !== null) c.message = r.message;
  if (r.output !== null) c.output = r.output;
  return c;
};

export function totalsOf(cases: Iterable<{ status: TestCaseInfo['status']; durationMs?: number }>): TestTotals {
  const t: TestTotals = { tests: 0, passed: 0, failed: 0, errored: 0, skipped: 0, durationMs: 0 };
  for (const c of cases) {
    t.tests++;
    t[c.status]++;
    t.durationMs += c.durationMs ?? 0;
  }
  t.durationMs = Math.round(t.durationMs);
  return t;
}

const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export class TestReportStore {
  private readonly maxJobBytes: number;
  private readonly limits: ParseLimits;
  private readonly now: () => number;

  constructor(private readonly db: Db, options: TestReportStoreOptions = {}) {
    this.maxJobBytes = options.maxJobBytes ?? DEFAULT_MAX_JOB_REPORT_BYTES;
    this.limits = options.limits ?? DEFAULT_PARSE_LIMITS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Collects, parses and stores the job's report files (report-files.ts reads them). Never rejects for
   * a report's own problem; rejects with the disk-full error when the database has no room (the caller
   * clears what was stored).
   */
  async collect(req: CollectReportsRequest): Promise<TestFileInfo[]> {
    const current = req.current ?? ((): boolean => true);
    if (!current()) return [];
    this.clearJob(req.runId, req.jobId);
    return readReportFiles({
      container: req.container, patterns: req.patterns, log: req.log, maxJobBytes: this.maxJobBytes, limits: this.limits,
      sinkFor: (file) => this.fileSink(req.runId, req.jobId, file, current),
    });
  }

  /** Removes what an earlier attempt of the job stored (a retry replaces it). */
  clearJob(runId: string, jobId: string): void {
    const planId = (this.db.prepare('SELECT plan_id FROM jobs WHERE id = ?').get(jobId) as { plan_id: string } | undefined)?.plan_id;
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM test_cases WHERE run_id = ? AND job_id = ?').run(runId, jobId);
      this.db.prepare('DELETE FROM test_reports WHERE run_id = ? AND job_id = ?').run(runId, jobId);
      if (planId !== undefined) this.db.prepare('DELETE FROM flaky_tests WHERE passed_run_id = ? AND job = ?').run(runId, planId);
    })();
  }

  /** Stores one parsed file of a job and records flaky tests (for cases already parsed; collect streams them). */
  storeFile(runId: string, jobId: string, file: string, parsed: { cases: ParsedCase[]; problem?: string }, current?: () => boolean): TestFileInfo {
    const sink = this.fileSink(runId, jobId, file, current);
    for (const c of parsed.cases) sink.add(c);
    return sink.end(parsed.problem);
  }

  /**
   * Where one file's cases go while it is parsed: inserted in batches (each batch its own short
   * transaction, never one held across the stream's awaits), so a 100,000-case report is never held
   * whole. end() writes the file's totals and its flaky tests; with a problem it removes the cases
   * stored so far instead — a malformed file counts no case. Once `current` says the attempt lost
   * its job, nothing more is written (the job's next attempt stores its own).
   */
  fileSink(runId: string, jobId: string, file: string, current: () => boolean = () => true): { add(c: ParsedCase): void; end(problem?: string): TestFileInfo } {
    const insertCase = this.db.prepare(`INSERT INTO test_cases (run_id, job_id, file, suite, classname, name, status, duration_ms, message, output)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const flaky = this.flakyCandidates(runId, jobId);
    const flips: Array<{ classname: string; name: string; failedRunId: string }> = [];
    const totals: TestTotals = { tests: 0, passed: 0, failed: 0, errored: 0, skipped: 0, durationMs: 0 };
    let batch: ParsedCase[] = [];
    let batchChars = 0;
    const flush = (): void => {
      const rows = batch;
      batch = [];
      batchChars = 0;
      if (!current()) return;
      this.db.transaction(() => {
        for (const c of rows) insertCase.run(runId, jobId, file, c.suite, c.classname, c.name, c.status, c.durationMs ?? null, c.message ?? null, c.output ?? null);
      })();
    };
    return {
      add: (c) => {
        totals.tests++;
        totals[c.status]++;
        totals.durationMs += c.durationMs ?? 0;
        if (c.status === 'passed' && flaky) {
          for (const failedRunId of flaky.failedIn.get(`${c.classname}\u0000${c.name}`) ?? []) flips.push({ classname: c.classname, name: c.name, failedRunId });
        }
        batch.push(c);
        batchChars += (c.message?.length ?? 0) + (c.output?.length ?? 0);
        if (batch.length >= CASE_BATCH || batchChars >= CASE_BATCH_CHARS) flush();
      },
      end: (problem) => {
        totals.durationMs = Math.round(totals.durationMs);
        if (!current()) {
          const info: TestFileInfo = { jobId, file, ...totals };
          return problem === undefined ? info : { ...info, problem };
        }
        if (problem !== undefined) {
          this.db.prepare('DELETE FROM test_cases WHERE run_id = ? AND job_id = ? AND file = ?').run(runId, jobId, file);
          for (const k of Object.keys(totals) as Array<keyof TestTotals>) totals[k] = 0;
          flips.length = 0;
        } else flush();
        this.db.transaction(() => {
          this.db.prepare(`INSERT OR REPLACE INTO test_reports (run_id, job_id, file, tests, passed, failed, errored, skipped, duration_ms, problem)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(runId, jobId, file, totals.tests, totals.passed, totals.failed, totals.errored, totals.skipped, totals.durationMs, problem ?? null);
          if (flaky) {
            const insert = this.db.prepare(`INSERT OR REPLACE INTO flaky_tests (repo, branch, job, classname, name, sha, failed_run_id, passed_run_id, at)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
            const at = this.now();
            for (const f of flips) insert.run(flaky.repo, flaky.branch, flaky.planId, f.classname, f.name, flaky.sha, f.failedRunId, runId, at);
          }
        })();
        const info: TestFileInfo = { jobId, file, ...totals };
        if (problem !== undefined) info.problem = problem;
        return info;
      },
    };
  }

  /** The cases of the same planned job that failed in earlier runs of the same repository and commit, by class and name. */
  private flakyCandidates(runId: string, jobId: string): { repo: string; branch: string; sha: string; planId: string; failedIn: Map<string, string[]> } | undefined {
    const run = this.db.prepare(`SELECT r.repo, r.branch, r.sha, r.created_at, j.plan_id FROM runs r JOIN jobs j ON j.run_id = r.id
      WHERE r.id = ? AND j.id = ?`).get(runId, jobId) as { repo: string; branch: string | null; sha: string; created_at: number; plan_id: string } | undefined;
    if (!run) return undefined;
    const failed = this.db.prepare(`SELECT DISTINCT c.classname, c.name, r.id AS run_id FROM runs r
      JOIN jobs j ON j.run_id = r.id AND j.plan_id = @plan
      JOIN test_cases c ON c.run_id = r.id AND c.status IN ('failed', 'errored') AND c.job_id = j.id
      WHERE r.repo = @repo AND r.sha = @sha AND r.id != @run AND r.created_at <= @created`)
      .all({ plan: run.plan_id, repo: run.repo, sha: run.sha, run: runId, created: run.created_at }) as Array<{ classname: string; name: string; run_id: string }>;
    const failedIn = new Map<string, string[]>();
    for (const f of failed) {
      const key = `${f.classname}\u0000${f.name}`;
      failedIn.set(key, [...(failedIn.get(key) ?? []), f.run_id]);
    }
    return { repo: run.repo, branch: run.branch ?? '', sha: run.sha, planId: run.plan_id, failedIn };
  }

  /** The run's report for the Tests tab; `search` also lists the cases matching it. */
  report(runId: string, search?: string): RunTestReport {
    const files = (this.db.prepare('SELECT * FROM test_reports WHERE run_id = ? ORDER BY job_id, file').all(runId) as FileRow[]).map((r) => {
      const f: TestFileInfo = {
        jobId: r.job_id, file: r.file, tests: r.tests, passed: r.passed, failed: r.failed, errored: r.errored, skipped: r.skipped, durationMs: r.duration_ms,
      };
      if (r.problem !== null) f.problem = r.problem;
      return f;
    });
    const totals = sumTotals(files);
    const failures = (this.db.prepare(`SELECT * FROM test_cases WHERE run_id = ? AND status IN ('failed', 'errored') ORDER BY id LIMIT 500`).all(runId) as CaseRow[]).map(toCase);
    const slowest = (this.db.prepare('SELECT * FROM test_cases WHERE run_id = ? AND duration_ms IS NOT NULL ORDER BY duration_ms DESC LIMIT 10').all(runId) as CaseRow[]).map(toCase);
    const report: RunTestReport = { totals, files, failures, slowest, flaky: this.flakyOf(runId) };
    const q = search?.trim();
    if (q) {
      const like = `%${escapeLike(q)}%`;
      report.matches = (this.db.prepare(`SELECT * FROM test_cases WHERE run_id = @run
          AND (name LIKE @like ESCAPE '\\' OR classname LIKE @like ESCAPE '\\' OR suite LIKE @like ESCAPE '\\')
          ORDER BY CASE status WHEN 'failed' THEN 0 WHEN 'errored' THEN 0 WHEN 'passed' THEN 2 ELSE 1 END, id LIMIT 200`)
        .all({ run: runId, like }) as CaseRow[]).map(toCase);
    }
    return report;
  }

  /** Flaky tests of the run's repository and branch, newest first. */
  private flakyOf(runId: string): FlakyTest[] {
    const run = this.db.prepare('SELECT repo, branch FROM runs WHERE id = ?').get(runId) as { repo: string; branch: string | null } | undefined;
    if (!run) return [];
    const rows = this.db.prepare(`SELECT f.*, fr.number AS failed_number, pr.number AS passed_number FROM flaky_tests f
      JOIN runs fr ON fr.id = f.failed_run_id JOIN runs pr ON pr.id = f.passed_run_id
      WHERE f.repo = ? AND f.branch = ? ORDER BY f.at DESC LIMIT 50`).all(run.repo, run.branch ?? '') as Array<{
      job: string; classname: string; name: string; sha: string; failed_run_id: string; passed_run_id: string; at: number; failed_number: number; passed_number: number;
    }>;
    return rows.map((r) => ({
      job: r.job, classname: r.classname, name: r.name, sha: r.sha, failedRunId: r.failed_run_id, failedRunNumber: r.failed_number,
      passedRunId: r.passed_run_id, passedRunNumber: r.passed_number, at: r.at,
    }));
  }
}
