import { describe, expect, it } from 'vitest';
import type { LogGroup } from '../../../shared/model/job-records.js';
import type { StepSummary } from '../../../shared/model/run.js';
import { buildSections, RowMap, splitReruns } from './log-rows.js';

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
    const rows = Array.from({ length: m.rowCount }, (_, i) => m.rowAt(i)).map((r) => (r!.kind === 'header' ? `h:${r!.section.key}` : r!.kind === 'line' ? r!.seq : 'g'));
    expect(rows).toEqual(['h:setup', 0, 1, 'h:step:0', 2, 3, 4, 'h:step:1', 5, 6, 7]);
  });

  it('keeps only the header of a folded step', () => {
    const m = new RowMap(sections, new Set(['step:0']));
    expect(m.rowCount).toBe(3 + 5);
    expect(m.rowOfSeq(3)).toBe(-1);
    expect(m.rowOfSeq(5)).toBe(5);
    expect(m.rowAt(4)).toMatchObject({ kind: 'header', section: { key: 'step:1' } });
  });

  it('finds the row of a seq and the lines a row window shows', () => {
    const m = new RowMap(sections, new Set());
    expect(m.rowOfSeq(6)).toBe(9);
    // Rows 3..8 are step 0's header, lines 2..4, step 1's header, line 5: one run across the header.
    expect(m.seqRuns(3, 8)).toEqual([[2, 5]]);
    expect(m.seqRuns(-40, 100)).toEqual([[0, 7]]);
    expect(m.seqRuns(3, 3)).toEqual([]);
  });

  it('leaves the lines of a folded step out of the window, so they are never fetched', () => {
    // Set-up lines 0..1, step 0 (2..4) folded, step 1 (5..7): rows h, 0, 1, h(folded), h, 5, 6, 7.
    const m = new RowMap(sections, new Set(['step:0']));
    expect(m.seqRuns(0, 7)).toEqual([[0, 1], [5, 7]]);
    const big = new RowMap(buildSections([step(0, 2), step(1, 200_002)], 400_002), new Set(['step:0']));
    expect(big.seqRuns(0, 100)).toEqual([[0, 1], [200_002, 200_097]]);
  });

  it('handles a million lines in one section with binary search', () => {
    const big = new RowMap(buildSections([step(0, 0)], 1_000_000), new Set());
    expect(big.rowCount).toBe(1_000_001);
    expect(big.rowAt(1_000_000)).toEqual({ kind: 'line', seq: 999_999 });
  });
});

describe('RowMap with log groups', () => {
  // Step 0 is lines 0..9: 1 '::group::A', 2 a1, 3 '::group::B', 4 b1, 5 '::endgroup::' (B), 6 a2, 7 '::endgroup::' (A), 8 after, 9 tail.
  const sections = buildSections([step(0, 0)], 10);
  const groups: LogGroup[] = [
    { start: 1, end: 7, endMarker: true, depth: 0, step: 0, title: 'A' },
    { start: 3, end: 5, endMarker: true, depth: 1, step: 0, title: 'B' },
  ];
  const rows = (m: RowMap) => Array.from({ length: m.rowCount }, (_, i) => m.rowAt(i)).map((r) =>
    (r!.kind === 'header' ? 'h' : r!.kind === 'group' ? `${r!.folded ? '+' : '-'}${r!.group.title}` : r!.seq));

  it('shows an open group as a header row over its lines and never shows ::endgroup:: lines', () => {
    expect(rows(new RowMap(sections, new Set(), groups, () => false))).toEqual(['h', 0, '-A', 2, '-B', 4, 6, 8, 9]);
  });

  it('keeps only the header of a folded group, nested groups included', () => {
    const m = new RowMap(sections, new Set(), groups, (g) => g.title === 'A');
    expect(rows(m)).toEqual(['h', 0, '+A', 8, 9]);
    expect(m.rowOfSeq(4)).toBe(-1);
    expect(m.rowOfSeq(8)).toBe(3);
    expect(m.groupsAround(4).map((g) => g.title)).toEqual(['A', 'B']);
    // The folded group's header shows no line, and its content is not fetched.
    expect(m.seqRuns(0, m.rowCount - 1)).toEqual([[0, 0], [8, 9]]);
  });

  it('folds an inner group alone', () => {
    expect(rows(new RowMap(sections, new Set(), groups, (g) => g.title === 'B'))).toEqual(['h', 0, '-A', 2, '+B', 6, 8, 9]);
  });

  it('runs an open group (still streaming) to the end of its step', () => {
    const open: LogGroup[] = [{ start: 8, end: null, endMarker: false, depth: 0, step: 0, title: 'live' }];
    expect(rows(new RowMap(sections, new Set(), open))).toEqual(['h', 0, 1, 2, 3, 4, 5, 6, 7, '-live', 9]);
  });

  it('lays out 1,000,000 lines with 10,000 groups from their metadata alone', () => {
    const many: LogGroup[] = Array.from({ length: 10_000 }, (_, i) => ({ start: i * 100, end: i * 100 + 99, endMarker: true, depth: 0, step: 0, title: `g${i}` }));
    const bigSections = buildSections([step(0, 0)], 1_000_000);
    const folded = new RowMap(bigSections, new Set(), many, () => true);
    expect(folded.rowCount).toBe(1 + 10_000);
    expect(folded.rowAt(10_000)).toMatchObject({ kind: 'group', group: { title: 'g9999' } });
    const oneOpen = new RowMap(bigSections, new Set(), many, (g) => g.title !== 'g5000');
    expect(oneOpen.rowCount).toBe(1 + 10_000 + 98);
    expect(oneOpen.rowAt(5002)).toEqual({ kind: 'line', seq: 500_001 });
    expect(oneOpen.rowOfSeq(500_098)).toBe(5001 + 98);
  });
});

describe('splitReruns', () => {
  const group = (start: number, end: number | null, stepIndex: number, title: string, depth = 0): LogGroup => ({ start, end, endMarker: false, depth, step: stepIndex, title });

  it('shows a re-run of a failed step that follows a later step under a re-run header, not the later step\'s', () => {
    // Step 0 failed at lines 2..5, an always() step 1 ran at 5..8, then step 0 was re-run at 8..11.
    const sections = buildSections([step(0, 2), step(1, 5)], 11);
    const inner = group(9, 10, 0, 'Compile');
    const { sections: out, groups } = splitReruns(sections, [group(8, 11, 0, "re-run of 'Step 0'"), inner]);
    expect(out.map((x) => [x.key, x.from, x.to, x.rerunOf?.index])).toEqual([['setup', 0, 2, undefined], ['step:0', 2, 5, undefined], ['step:1', 5, 8, undefined], ['rerun:8', 8, 11, 0]]);
    expect(out[3].title).toBe("re-run of 'Step 0'");
    // The wrapper is the header now; the re-run's own groups stay groups.
    expect(groups).toEqual([inner]);
    const rows = new RowMap(out, new Set(), groups);
    expect(rows.rowAt(rows.rowOfSeq(8) - 1)).toMatchObject({ kind: 'header', section: { key: 'rerun:8' } });
  });

  it('gives each of two re-runs its own section, and leaves logs without re-runs as they are', () => {
    const sections = buildSections([step(0, 0)], 10);
    const { sections: out } = splitReruns(sections, [group(4, 6, 0, "re-run of 'Step 0'"), group(7, 10, 0, "re-run of 'Step 0'")]);
    expect(out.map((x) => [x.key, x.from, x.to])).toEqual([['step:0', 0, 4], ['rerun:4', 4, 7], ['rerun:7', 7, 10]]);
    const plain = [group(1, 3, 0, 'Compile')];
    expect(splitReruns(sections, plain)).toEqual({ sections, groups: plain });
    // A step's own ::group:: that merely has the same title but is nested, or closed by ::endgroup::, is a group.
    expect(splitReruns(sections, [group(1, 3, 0, "re-run of 'Step 0'", 1)]).sections).toEqual(sections);
    expect(splitReruns(sections, [{ ...group(1, 3, 0, "re-run of 'Step 0'"), endMarker: true }]).sections).toEqual(sections);
  });
});
