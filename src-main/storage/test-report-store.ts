/**
 * Test reports: the JUnit XML files a job declares (`reports: { junit: [globs] }`), collected after
 * its steps, parsed while they stream out of the container, and kept as rows: totals per file, every
 * case (failed and errored ones with message and output, bounded), and flaky tests per branch.
 *
 * Collection follows the artifact rules exactly (artifact-store.ts): the workspace is read through
 * the container's archive API, patterns are workspace-relative (absolute ones and `..` are refused),
 * links are never followed, only regular files are read. A report is an observation, not a
 * product: a refused pattern, a malformed file or a file over the size limit is logged and recorded
 * with its reason, and fails nothing — not the job, not the other files.
 *
 * Flaky: when a job's report is stored, the earlier runs of the same repository and commit are
 * asked which cases of the same planned job failed there; those that pass now are recorded as flaky
 * on the branch (failed, then passed, on the same commit).
 */
import type { ReadEntry } from 'tar';
import type { FlakyTest, RunTestReport, TestCaseInfo, TestFileInfo, TestTotals } from '../../shared/model/test-report.js';
import { formatBytes } from '../../shared/format.js';
import type { JobContainer } from '../core/job-contract.js';
import { patternProblem } from '../../shared/workspace-pattern.js';
import { relativeEntryPath, workspaceArchives, workspaceMatcher } from './artifact-store.js';
import type { Db } from './db.js';
import { junitReader, type ParsedCase, type ParseLimits, DEFAULT_PARSE_LIMITS } from './junit-parser.js';
import { forEachTarEntry, isRegularFileEntry } from './tar-streams.js';

/** Cases inserted per transaction while a report streams. */
const CASE_BATCH = 5000;

/** Bytes of report files read per job; past it the remaining files are skipped with a note. */
export const DEFAULT_MAX_JOB_REPORT_BYTES = 512 * 1024 * 1024;

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

export function sumTotals(parts: TestTotals[]): TestTotals {
  const t: TestTotals = { tests: 0, passed: 0, failed: 0, errored: 0, skipped: 0, durationMs: 0 };
  for (const p of parts) for (const k of Object.keys(t) as Array<keyof TestTotals>) t[k] += p[k];
  return t;
}

/** "120 tests: 2 failed, 1 errored, 3 skipped" — the line the job's log gets. */
export function describeTotals(t: TestTotals): string {
  const parts = [t.failed && `${t.failed} failed`, t.errored && `${t.errored} errored`, t.skipped && `${t.skipped} skipped`].filter(Boolean);
  return `${t.tests} test${t.tests === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ', all passed'}`;
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

  /** Collects, parses and stores the job's report files. Never rejects for a report's own problem. */
  async collect(req: CollectReportsRequest): Promise<TestFileInfo[]> {
    const { container, log } = req;
    const valid: string[] = [];
    for (const p of req.patterns) {
      const problem = patternProblem(p, 'report');
      if (problem) log(`warning: test report pattern '${p}' refused: it ${problem}`);
      else valid.push(p);
    }
    const current = req.current ?? ((): boolean => true);
    if (!current()) return [];
    this.clearJob(req.runId, req.jobId);
    const matches = workspaceMatcher(valid);
    const files: TestFileInfo[] = [];
    // Two patterns' roots can archive the same file; it is read once.
    const seen = new Set<string>();
    let total = 0;
    for await (const { root, archive } of workspaceArchives(container, valid)) {
      try {
        await forEachTarEntry(archive, async (entry: ReadEntry) => {
          const rel = relativeEntryPath(entry.path, root);
          if (rel === undefined || !matches(rel) || seen.has(rel)) {
            entry.resume();
            return;
          }
          seen.add(rel);
          if (!isRegularFileEntry(entry, (kind) => log(`warning: test report ${rel} skipped: it is a ${kind}, and links are not followed`))) return;
          if (total + entry.size > this.maxJobBytes) {
            entry.resume();
            files.push(this.storeFile(req.runId, req.jobId, rel, { cases: [], problem: `${rel}: not read: the job's report files exceed ${formatBytes(this.maxJobBytes)}` }, current));
            return;
          }
          total += entry.size;
          const sink = this.fileSink(req.runId, req.jobId, rel, current);
          const reader = junitReader(rel, this.limits, (c) => sink.add(c));
          try {
            for await (const chunk of entry as AsyncIterable<Buffer>) reader.write(chunk);
          } catch (err) {
            // Cut off mid-file (the engine went away): the cases stored so far go with the file.
            files.push(sink.end(`${rel}: not read completely: ${(err as Error).message}`));
            throw err;
          }
          files.push(sink.end(reader.end().problem));
        });
      } catch (err) {
        log(`warning: test reports under '${root || '.'}' could not be read completely: ${(err as Error).message}`);
      }
    }
    files.sort((x, y) => (x.file < y.file ? -1 : x.file > y.file ? 1 : 0));
    if (files.length === 0) {
      if (valid.length > 0) log(`test reports: no files match ${valid.map((p) => `'${p}'`).join(', ')}`);
      return files;
    }
    for (const f of files) if (f.problem) log(`warning: test report ${f.problem} (the report is skipped; nothing else fails)`);
    const read = files.filter((f) => !f.problem);
    log(`test reports: ${read.length} file${read.length === 1 ? '' : 's'}, ${describeTotals(sumTotals(read))}`);
    return files;
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
    const flush = (): void => {
      const rows = batch;
      batch = [];
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
        if (batch.length >= CASE_BATCH) flush();
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
