import { describe, expect, it } from 'vitest';
import type { StepSummary } from '../../../shared/model/run.js';
import { buildSections, RowMap } from './log-rows.js';

const step = (index: number, logOffset?: number): StepSummary => ({ index, name: `Step ${index}`, status: logOffset === undefined ? 'queued' : 'passed', logOffset });

describe('buildSections', () => {
  it('makes a set-up section for lines before the first step, then one per started step', () => {
    const s = buildSections([step(0, 3), step(1, 10), step(2)], 15);
    expect(s.map((x) => [x.key, x.from, x.to])).toEqual([['setup', 0, 3], ['step:0', 3, 10], ['step:1', 10, 15], ['step:2', 15, 15]]);
  });

  it('shows every line without headers when no step has started', () => {
    const s = buildSections([], 4);
    expect(s).toEqual([{ key: 'all', title: '', step: null, from: 0, to: 4 }]);
  });
});

describe('RowMap', () => {
  const sections = buildSections([step(0, 2), step(1, 5)], 8);

  it('interleaves headers and lines', () => {
    const m = new RowMap(sections, new Set());
    expect(m.rowCount).toBe(3 + 8);
    const rows = Array.from({ length: m.rowCount }, (_, i) => m.rowAt(i)).map((r) => (r!.kind === 'header' ? `h:${r!.section.key}` : r!.seq));
    expect(rows).toEqual(['h:setup', 0, 1, 'h:step:0', 2, 3, 4, 'h:step:1', 5, 6, 7]);
  });

  it('keeps only the header of a folded step', () => {
    const m = new RowMap(sections, new Set(['step:0']));
    expect(m.rowCount).toBe(3 + 5);
    expect(m.rowOfSeq(3)).toBe(-1);
    expect(m.rowOfSeq(5)).toBe(5);
    expect(m.rowAt(4)).toMatchObject({ kind: 'header', section: { key: 'step:1' } });
  });

  it('finds the row of a seq and the seq range of a row window', () => {
    const m = new RowMap(sections, new Set());
    expect(m.rowOfSeq(6)).toBe(9);
    expect(m.seqRange(3, 8)).toEqual([2, 5]);
  });

  it('handles a million lines in one section with binary search', () => {
    const big = new RowMap(buildSections([step(0, 0)], 1_000_000), new Set());
    expect(big.rowCount).toBe(1_000_001);
    expect(big.rowAt(1_000_000)).toEqual({ kind: 'line', seq: 999_999 });
  });
});
