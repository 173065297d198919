/**
 * The 50 MB per run limit on job outputs, over a real SQLite file: the job that would pass it
 * fails with a sentence saying so and hands on nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withinRunOutputLimit } from '../../src-main/engine/job-runner.js';
import { openDatabase, type Db } from '../../src-main/storage/db.js';
import { FlowStore } from '../../src-main/storage/flow-store.js';

let dir: string | undefined;
let db: Db | undefined;
afterEach(() => {
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  db = undefined;
});

describe('the outputs of one run', () => {
  it('may not pass 50 MiB: the job that would pass it fails and hands on nothing', () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-outputs-'));
    db = openDatabase(join(dir, 'kiln.db'));
    const flow = new FlowStore(db);
    for (let i = 0; i < 50; i++) flow.saveOutputs(`job-${i}`, 'run-1', { v: 'x'.repeat(1024 * 1024 - 1) });
    expect(flow.runOutputBytes('run-1', 'other')).toBe(50 * 1024 * 1024);
    const claim = { jobId: 'job-50', runId: 'run-1', repo: 'acme/web', token: 1, attempt: 1, leaseUntil: 0 };
    const over = withinRunOutputLimit(flow, claim, { status: 'passed', steps: [], logOffset: 0, outputs: { tag: 'v1' } });
    expect(over).toMatchObject({ status: 'failed', outputs: undefined });
    expect(over.error).toBe("the run's job outputs would reach 50.0 MB, more than the 50 MiB a run may hold; pass large values as artifacts");
    // Another run is not affected, nor is a retried job replacing its own outputs.
    expect(withinRunOutputLimit(flow, { ...claim, runId: 'run-2' }, { status: 'passed', steps: [], logOffset: 0, outputs: { tag: 'v1' } }).status).toBe('passed');
    expect(withinRunOutputLimit(flow, { ...claim, jobId: 'job-0' }, { status: 'passed', steps: [], logOffset: 0, outputs: { v: 'y' } }).status).toBe('passed');
  });
});
