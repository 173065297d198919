import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { create } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestFileInfo } from '../../shared/model/test-report.js';
import type { JobContainer } from '../core/job-contract.js';
import { readReportFiles, type ReportFileSink } from './report-files.js';

const JUNIT = '<testsuite name="s" tests="1"><testcase classname="c" name="adds" time="0.1"/></testsuite>';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-report-files-'));
  mkdirSync(join(dir, 'out'));
  writeFileSync(join(dir, 'out', 'junit.xml'), JUNIT);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A container whose workspace is `dir`, archived by the real tar package, or a stream that fails. */
function container(archive?: () => Readable): JobContainer {
  return {
    workspace: '/ws',
    exec: () => Promise.reject(new Error('not used')),
    putArchive: () => Promise.reject(new Error('not used')),
    getArchive: () => Promise.resolve(archive ? archive() : (create({ cwd: dir }, ['out']) as unknown as Readable)),
  };
}

function memorySink(file: string, onAdd: () => void = () => {}): ReportFileSink {
  let tests = 0;
  return {
    add: () => { onAdd(); tests++; },
    end: (problem) => ({ file, problem, tests, passed: tests, failed: 0, errored: 0, skipped: 0, durationMs: 0 }) as unknown as TestFileInfo,
  };
}

describe('readReportFiles', () => {
  it('reads the matched files into the sinks and logs the totals', async () => {
    const lines: string[] = [];
    const files = await readReportFiles({ container: container(), patterns: ['out/*.xml'], log: (l) => lines.push(l), sinkFor: (f) => memorySink(f) });
    expect(files.map((f) => [f.file, f.tests])).toEqual([['out/junit.xml', 1]]);
    expect(lines.at(-1)).toMatch(/^test reports: 1 file, /);
  });

  it('rejects with the store\'s own error when the store finds the disk full (the caller says "disk full")', async () => {
    const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    const read = readReportFiles({ container: container(), patterns: ['out/*.xml'], log: () => {}, sinkFor: (f) => memorySink(f, () => { throw full; }) });
    await expect(read).rejects.toBe(full);
  });

  it('only warns when the archive stream itself reports a full disk on the engine side: reports fail nothing', async () => {
    const lines: string[] = [];
    const broken = (): Readable => new Readable({ read() { this.destroy(new Error('write /var/lib/docker/tmp/x: no space left on device')); } });
    const files = await readReportFiles({ container: container(broken), patterns: ['out/*.xml'], log: (l) => lines.push(l), sinkFor: (f) => memorySink(f) });
    expect(files).toEqual([]);
    expect(lines).toContain("warning: test reports under 'out' could not be read completely: write /var/lib/docker/tmp/x: no space left on device");
  });
});
