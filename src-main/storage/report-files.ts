/**
 * Reading a job's JUnit report files out of its container, whoever keeps the result: the engine's
 * TestReportStore writes the cases to SQLite, `kiln run` keeps totals and failures in memory. One
 * loop, so both follow the same rules (the artifact rules: workspace-relative patterns, `..` and
 * absolute ones refused, links never followed, only regular files read, a byte budget per job).
 *
 * Each file streams through the JUnit reader into a sink the caller makes for it; nothing here
 * holds a whole file. A report is an observation: a refused pattern, a malformed file or one past
 * the budget is logged and handed to its sink as a problem, and fails nothing.
 */
import type { ReadEntry } from 'tar';
import type { TestFileInfo, TestTotals } from '../../shared/model/test-report.js';
import { formatBytes } from '../../shared/format.js';
import { isDiskFull } from '../core/disk-full.js';
import type { JobContainer } from '../core/job-contract.js';
import { patternProblem } from '../../shared/workspace-pattern.js';
import { relativeEntryPath, workspaceArchives, workspaceMatcher } from './artifact-store.js';
import { junitReader, type ParsedCase, type ParseLimits, DEFAULT_PARSE_LIMITS } from './junit-parser.js';
import { forEachTarEntry, isRegularFileEntry } from './tar-streams.js';

/** Bytes of report files read per job; past it the remaining files are skipped with a note. */
export const DEFAULT_MAX_JOB_REPORT_BYTES = 512 * 1024 * 1024;

/** Where one file's cases go while it is parsed; end() is called once, with the file's problem if any. */
export interface ReportFileSink {
  add(c: ParsedCase): void;
  end(problem?: string): TestFileInfo;
}

export interface ReadReportFilesRequest {
  container: JobContainer;
  patterns: string[];
  log: (text: string) => void;
  /** A sink for the file at `file` (workspace-relative). */
  sinkFor(file: string): ReportFileSink;
  maxJobBytes?: number;
  limits?: ParseLimits;
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

/** An error thrown by a sink (the store), told apart from the archive's and the parser's own. */
class StoreFailed extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** The sink with its errors marked as the store's. */
function storing(sink: ReportFileSink): ReportFileSink {
  const mark = <T>(f: () => T): T => {
    try {
      return f();
    } catch (err) {
      throw err instanceof StoreFailed ? err : new StoreFailed(err);
    }
  };
  return { add: (c) => mark(() => sink.add(c)), end: (problem) => mark(() => sink.end(problem)) };
}

/** Reads every report file the patterns match, in file order; logs problems and the totals line. Never rejects for a report's own problem. */
export async function readReportFiles(req: ReadReportFilesRequest): Promise<TestFileInfo[]> {
  const { container, log } = req;
  const maxJobBytes = req.maxJobBytes ?? DEFAULT_MAX_JOB_REPORT_BYTES;
  const limits = req.limits ?? DEFAULT_PARSE_LIMITS;
  const valid: string[] = [];
  for (const p of req.patterns) {
    const problem = patternProblem(p, 'report');
    if (problem) log(`warning: test report pattern '${p}' refused: it ${problem}`);
    else valid.push(p);
  }
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
        if (total + entry.size > maxJobBytes) {
          entry.resume();
          files.push(storing(req.sinkFor(rel)).end(`${rel}: not read: the job's report files exceed ${formatBytes(maxJobBytes)}`));
          return;
        }
        total += entry.size;
        const sink = storing(req.sinkFor(rel));
        const reader = junitReader(rel, limits, (c) => sink.add(c));
        try {
          for await (const chunk of entry as AsyncIterable<Buffer>) reader.write(chunk);
        } catch (err) {
          // Cut off mid-file (the engine went away): the cases read so far go with the file.
          files.push(sink.end(`${rel}: not read completely: ${(err as Error).message}`));
          throw err;
        }
        files.push(sink.end(reader.end().problem));
      });
    } catch (err) {
      // No room where the cases are stored is not the report's problem: the caller says "disk full" and
      // tells the guard. (A full disk the archive stream reports, on the engine's side, stays a warning.)
      if (err instanceof StoreFailed && isDiskFull(err.cause)) throw err.cause;
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
