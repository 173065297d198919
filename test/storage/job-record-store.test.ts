import { afterEach, describe, expect, it } from 'vitest';
import { JobRecordStore } from '../../src-main/storage/job-record-store.js';
import { queueFixture, type QueueFixture } from '../helpers/queue-fixture.js';

let f: QueueFixture;
afterEach(() => f?.close());

function setup() {
  f = queueFixture();
  const { runId, jobs } = f.addRun({ jobs: { build: [], test: ['build'] } });
  return { store: new JobRecordStore(f.db), runId, build: jobs.build, test: jobs.test };
}

describe('log groups in SQLite', () => {
  it('keeps a group reported open, then closed, as one row, in seq order', () => {
    const { store, build } = setup();
    store.putGroup(build, { start: 10, end: null, endMarker: false, depth: 0, step: 1, title: 'later' });
    store.putGroup(build, { start: 2, end: null, endMarker: false, depth: 0, step: 0, title: 'first' });
    store.putGroup(build, { start: 2, end: 6, endMarker: true, depth: 0, step: 0, title: 'first' });
    expect(store.groups(build)).toEqual([
      { start: 2, end: 6, endMarker: true, depth: 0, step: 0, title: 'first' },
      { start: 10, end: null, endMarker: false, depth: 0, step: 1, title: 'later' },
    ]);
  });

  it('answers a refresh from a seq with the groups starting or ending from there and the open ones', () => {
    const { store, build } = setup();
    store.putGroup(build, { start: 0, end: 4, endMarker: true, depth: 0, step: 0, title: 'old' });
    store.putGroup(build, { start: 5, end: 20, endMarker: true, depth: 0, step: 0, title: 'ends later' });
    store.putGroup(build, { start: 6, end: null, endMarker: false, depth: 1, step: 0, title: 'open' });
    store.putGroup(build, { start: 30, end: 31, endMarker: true, depth: 0, step: 1, title: 'new' });
    expect(store.groups(build, 10).map((g) => g.title)).toEqual(['ends later', 'open', 'new']);
  });
});

describe('annotations and summaries in SQLite', () => {
  it('lists a run\'s annotations errors first, then warnings, then notices, in order within each', () => {
    const { store, runId, build, test } = setup();
    store.addAnnotation(runId, { jobId: build, level: 'notice', source: 'step', message: 'n', step: 0, seq: 1 });
    store.addAnnotation(runId, { jobId: build, level: 'error', source: 'step', message: 'e1', step: 0, seq: 2, file: 'a.ts', line: 3, col: 4, endLine: 5, endCol: 6, title: 'T' });
    store.addAnnotation(runId, { jobId: test, level: 'warning', source: 'step', message: 'w', step: 0, seq: 0 });
    store.addAnnotation(runId, { jobId: test, level: 'error', source: 'kiln', message: 'e2', step: null });
    expect(store.annotations(runId)).toEqual([
      { jobId: build, level: 'error', source: 'step', message: 'e1', step: 0, seq: 2, file: 'a.ts', line: 3, col: 4, endLine: 5, endCol: 6, title: 'T' },
      { jobId: test, level: 'error', source: 'kiln', message: 'e2', step: null },
      { jobId: test, level: 'warning', source: 'step', message: 'w', step: 0, seq: 0 },
      { jobId: build, level: 'notice', source: 'step', message: 'n', step: 0, seq: 1 },
    ]);
  });

  it('keeps one summary per step, a retry\'s replacing the earlier attempt\'s, ordered by job then step', () => {
    const { store, runId, build, test } = setup();
    store.putSummary({ jobId: test, step: 0, stepName: 'Report', markdown: '# test', bytes: 6 });
    store.putSummary({ jobId: build, step: 1, stepName: 'B', markdown: 'old', bytes: 3 });
    store.putSummary({ jobId: build, step: 1, stepName: 'B', markdown: 'new', bytes: 9, truncated: 'cut' });
    store.putSummary({ jobId: build, step: 0, stepName: 'A', markdown: 'a', bytes: 1 });
    expect(store.summaries(runId)).toEqual([
      { jobId: build, step: 0, stepName: 'A', markdown: 'a', bytes: 1 },
      { jobId: build, step: 1, stepName: 'B', markdown: 'new', bytes: 9, truncated: 'cut' },
      { jobId: test, step: 0, stepName: 'Report', markdown: '# test', bytes: 6 },
    ]);
  });
});
