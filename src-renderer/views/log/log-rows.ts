import { rerunGroupTitle, type LogGroup } from '../../../shared/model/job-records.js';
import type { StepSummary } from '../../../shared/model/run.js';

/**
 * Maps the virtual list's row index to what it shows: a step header or a log line. Steps are
 * sections of the log by seq range ([logOffset of the step, logOffset of the next started step));
 * lines before the first step (checkout, services, cache) form a "Set up job" section. A folded
 * section keeps its header row only. Log groups (`::group::`) fold inside steps the same way, from
 * their stored metadata (start, end), never by reading lines. Lookups are binary searches: cheap
 * for 1,000,000 lines.
 */
export interface LogSection {
  key: string;
  title: string;
  step: StepSummary | null;
  /** First seq and one past the last seq of the section's lines. */
  from: number;
  to: number;
  /** A re-run of this (failed) step in a job kept for debugging: see splitReruns. */
  rerunOf?: StepSummary;
}

export type LogRow =
  | { kind: 'header'; section: LogSection; sectionIndex: number }
  | { kind: 'group'; group: LogGroup; folded: boolean }
  | { kind: 'line'; seq: number };

export function buildSections(steps: readonly StepSummary[], total: number): LogSection[] {
  const started = steps.filter((s) => s.logOffset !== undefined).sort((a, b) => a.logOffset! - b.logOffset!);
  if (started.length === 0) {
    const pending = steps.map((s) => ({ key: `step:${s.index}`, title: s.name, step: s, from: total, to: total }));
    return [{ key: 'all', title: '', step: null, from: 0, to: total }, ...pending];
  }
  const out: LogSection[] = [];
  const firstOffset = Math.min(started[0].logOffset!, total);
  if (firstOffset > 0) out.push({ key: 'setup', title: 'Set up job', step: null, from: 0, to: firstOffset });
  started.forEach((s, i) => {
    const from = Math.min(s.logOffset!, total);
    const next = i + 1 < started.length ? Math.min(started[i + 1].logOffset!, total) : total;
    out.push({ key: `step:${s.index}`, title: s.name, step: s, from, to: Math.max(from, next) });
  });
  for (const s of steps) if (s.logOffset === undefined) out.push({ key: `step:${s.index}`, title: s.name, step: s, from: total, to: total });
  return out;
}

/**
 * Re-runs of a failed step (a job kept for debugging) as sections of their own. Their lines come
 * after every step's, so by seq range they would sit under the last step's header (an `if: always()`
 * step that ran after the failure); the engine wraps each re-run in a top-level group tagged with the
 * failed step and titled by rerunGroupTitle. Such a group starts a "re-run of" section that runs to
 * the next one or to the end of the section it fell in, and is no longer a group row. O(groups).
 */
export function splitReruns(sections: readonly LogSection[], groups: readonly LogGroup[]): { sections: LogSection[]; groups: readonly LogGroup[] } {
  const stepOf = new Map<number, StepSummary>();
  for (const s of sections) if (s.step) stepOf.set(s.step.index, s.step);
  const starts: Array<{ group: LogGroup; step: StepSummary }> = [];
  for (const g of groups) {
    const step = g.depth === 0 && g.step !== null && !g.endMarker ? stepOf.get(g.step) : undefined;
    if (step && g.title === rerunGroupTitle(step.name)) starts.push({ group: g, step });
  }
  if (starts.length === 0) return { sections: sections.slice(), groups };
  const out: LogSection[] = [];
  let k = 0;
  for (const s of sections) {
    while (k < starts.length && starts[k].group.start < s.from) k++;
    let from = s.from;
    let current: LogSection = s;
    let currentEnd: number | null = null;
    while (k < starts.length && starts[k].group.start < s.to && s.to > s.from) {
      const { group, step } = starts[k++];
      if (group.start > from || current !== s) out.push({ ...current, from, to: group.start });
      current = { key: `rerun:${group.start}`, title: group.title, step: null, from: group.start, to: s.to, rerunOf: step };
      currentEnd = group.end;
      from = group.start;
    }
    if (current !== s && currentEnd !== null && currentEnd > from && currentEnd < s.to) {
      // Lines after the last re-run (debugging ended, the container left up or removed) are not its output.
      out.push({ ...current, from, to: currentEnd });
      out.push({ key: `after:${currentEnd}`, title: AFTER_DEBUGGING, step: null, from: currentEnd, to: s.to });
    } else out.push(current === s ? s : { ...current, from, to: s.to });
  }
  const wrappers = new Set(starts.map((x) => x.group));
  return { sections: out, groups: groups.filter((g) => !wrappers.has(g)) };
}

/** The section of the lines after a kept job's last re-run. */
export const AFTER_DEBUGGING = 'After debugging';

/** Whether a group shows only its header row. */
export type GroupFolded = (group: LogGroup) => boolean;

const LINES = 0;
const SECTION = 1;
const GROUP = 2;

interface Segments { segRow: number[]; segKind: number[]; segRef: number[] }

/**
 * Fills `out` with the segments of the list and returns the row count. Iterative (an explicit stack
 * of the open groups' limits) and closure-free, so the JIT keeps it fast from the first fold on.
 */
function layout(out: Segments, sections: readonly LogSection[], folded: ReadonlySet<string>, groups: readonly LogGroup[], groupFolded: GroupFolded): number {
  let row = 0;
  let gi = 0;
  const n = groups.length;
  const limits: number[] = [];
  const afters: number[] = [];
  for (let si = 0; si < sections.length; si++) {
    const s = sections[si];
    if (s.key !== 'all') row = pushSegment(out, row, SECTION, si, 1);
    while (gi < n && groups[gi].start < s.from) gi++;
    if (folded.has(s.key)) {
      while (gi < n && groups[gi].start < s.to) gi++;
      continue;
    }
    let pos = s.from;
    let limit = s.to;
    for (;;) {
      if (gi < n && groups[gi].start < limit) {
        const g = groups[gi];
        const index = gi++;
        if (g.start < pos) continue; // overlapping data: not a group of this range
        row = pushSegment(out, row, LINES, pos, g.start - pos);
        row = pushSegment(out, row, GROUP, index, 1);
        const contentEnd = Math.max(g.start + 1, Math.min(limit, g.end ?? limit));
        // The ::endgroup:: line (when inside the range) is never a row.
        const after = g.endMarker && g.end !== null && g.end < limit ? contentEnd + 1 : contentEnd;
        if (groupFolded(g)) {
          while (gi < n && groups[gi].start < contentEnd) gi++;
          pos = after;
        } else {
          limits.push(limit);
          afters.push(after);
          limit = contentEnd;
          pos = g.start + 1;
        }
      } else {
        row = pushSegment(out, row, LINES, pos, limit - pos);
        if (limits.length === 0) break;
        limit = limits.pop()!;
        pos = afters.pop()!;
      }
    }
  }
  return row;
}

function pushSegment(out: Segments, row: number, kind: number, ref: number, rows: number): number {
  if (rows <= 0) return row;
  out.segRow.push(row);
  out.segKind.push(kind);
  out.segRef.push(ref);
  return row + rows;
}

/**
 * The rows of the list as segments: a run of consecutive lines, a step header or a group header.
 * Built once per fold change in O(sections + groups) — never per line — so folding one of 10,000
 * groups of a 1,000,000-line log re-lays out in milliseconds. A group's `::endgroup::` line is never
 * a row; a folded group hides its content, nested groups included.
 */
export class RowMap {
  /** First row of each segment, increasing; with its kind, and a seq (lines), section or group index. */
  readonly segRow: number[] = [];
  readonly segKind: number[] = [];
  readonly segRef: number[] = [];
  readonly rowCount: number;

  constructor(
    readonly sections: readonly LogSection[],
    private readonly folded: ReadonlySet<string>,
    /** Sorted by start (getLogGroups' order). */
    readonly groups: readonly LogGroup[] = [],
    private readonly groupFolded: GroupFolded = () => false,
  ) {
    this.rowCount = layout(this, sections, folded, groups, groupFolded);
  }

  private hasHeader(s: LogSection): boolean {
    return s.key !== 'all';
  }

  private segmentAt(index: number): number {
    let lo = 0;
    let hi = this.segRow.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segRow[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  rowAt(index: number): LogRow | undefined {
    if (index < 0 || index >= this.rowCount) return undefined;
    const k = this.segmentAt(index);
    const ref = this.segRef[k];
    if (this.segKind[k] === SECTION) return { kind: 'header', section: this.sections[ref], sectionIndex: ref };
    if (this.segKind[k] === GROUP) {
      const group = this.groups[ref];
      return { kind: 'group', group, folded: this.groupFolded(group) };
    }
    return { kind: 'line', seq: ref + index - this.segRow[k] };
  }

  sectionOfSeq(seq: number): LogSection | undefined {
    return this.sections.find((s) => seq >= s.from && seq < s.to);
  }

  /** The groups around `seq` (outermost first): what must be unfolded to show it. */
  groupsAround(seq: number): LogGroup[] {
    return this.groups.filter((g) => g.start < seq && (g.end === null || seq < g.end));
  }

  /** The row showing `seq` (a group's header row for its `::group::` line), or -1 when it is folded away or hidden. */
  rowOfSeq(seq: number): number {
    for (let k = 0; k < this.segRow.length; k++) {
      const kind = this.segKind[k];
      if (kind === LINES) {
        const len = (k + 1 < this.segRow.length ? this.segRow[k + 1] : this.rowCount) - this.segRow[k];
        if (seq >= this.segRef[k] && seq < this.segRef[k] + len) return this.segRow[k] + seq - this.segRef[k];
      } else if (kind === GROUP && this.groups[this.segRef[k]].start === seq) {
        return this.segRow[k];
      }
    }
    return -1;
  }

  rowOfSection(key: string): number {
    const si = this.sections.findIndex((s) => s.key === key);
    if (si < 0) return -1;
    for (let k = 0; k < this.segRow.length; k++) if (this.segKind[k] === SECTION && this.segRef[k] === si) return this.segRow[k];
    return -1;
  }

  /**
   * The runs of consecutive lines shown by rows [start, stop], in order, each as [first seq, last seq]:
   * what to fetch. Lines hidden between two runs (a folded step or group) are not part of any, so
   * folding the 200,000 lines of a step between two lines in view fetches nothing for them. Headers
   * show no line of their own. O(segments in the window).
   */
  seqRuns(start: number, stop: number): Array<[number, number]> {
    const runs: Array<[number, number]> = [];
    if (this.rowCount === 0) return runs;
    const first = Math.max(0, start);
    const last = Math.min(this.rowCount - 1, stop);
    for (let k = this.segmentAt(first); k < this.segRow.length && this.segRow[k] <= last; k++) {
      if (this.segKind[k] !== LINES) continue;
      const end = (k + 1 < this.segRow.length ? this.segRow[k + 1] : this.rowCount) - 1;
      const from = this.segRef[k] + Math.max(first, this.segRow[k]) - this.segRow[k];
      const to = this.segRef[k] + Math.min(last, end) - this.segRow[k];
      const prev = runs[runs.length - 1];
      if (prev && prev[1] + 1 === from) prev[1] = to;
      else runs.push([from, to]);
    }
    return runs;
  }
}
