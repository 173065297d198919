import type { StepSummary } from '../../../shared/model/run.js';

/**
 * Maps the virtual list's row index to what it shows: a step header or a log line. Steps are
 * sections of the log by seq range ([logOffset of the step, logOffset of the next started step));
 * lines before the first step (checkout, services, cache) form a "Set up job" section. A folded
 * section keeps its header row only. Lookups are binary searches: cheap for 1,000,000 lines.
 */
export interface LogSection {
  key: string;
  title: string;
  step: StepSummary | null;
  /** First seq and one past the last seq of the section's lines. */
  from: number;
  to: number;
}

export type LogRow = { kind: 'header'; section: LogSection; sectionIndex: number } | { kind: 'line'; seq: number };

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

export class RowMap {
  /** Row index of each section's first row (its header, or its first line for the headerless 'all'). */
  private readonly starts: number[] = [];
  readonly rowCount: number;

  constructor(readonly sections: readonly LogSection[], private readonly folded: ReadonlySet<string>) {
    let row = 0;
    for (const s of sections) {
      this.starts.push(row);
      row += this.rowsOf(s);
    }
    this.rowCount = row;
  }

  private hasHeader(s: LogSection): boolean {
    return s.key !== 'all';
  }

  private rowsOf(s: LogSection): number {
    return (this.hasHeader(s) ? 1 : 0) + (this.folded.has(s.key) ? 0 : s.to - s.from);
  }

  private sectionAtRow(index: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    // Skip empty headerless sections that share a start row.
    while (lo + 1 < this.starts.length && this.starts[lo + 1] === this.starts[lo] && this.rowsOf(this.sections[lo]) === 0) lo++;
    return lo;
  }

  rowAt(index: number): LogRow | undefined {
    if (index < 0 || index >= this.rowCount) return undefined;
    const si = this.sectionAtRow(index);
    const s = this.sections[si];
    const within = index - this.starts[si];
    if (this.hasHeader(s)) {
      if (within === 0) return { kind: 'header', section: s, sectionIndex: si };
      return { kind: 'line', seq: s.from + within - 1 };
    }
    return { kind: 'line', seq: s.from + within };
  }

  sectionOfSeq(seq: number): LogSection | undefined {
    return this.sections.find((s) => seq >= s.from && seq < s.to);
  }

  /** The row showing `seq`, or -1 when its section is folded. */
  rowOfSeq(seq: number): number {
    const si = this.sections.findIndex((s) => seq >= s.from && seq < s.to);
    if (si < 0) return -1;
    const s = this.sections[si];
    if (this.folded.has(s.key)) return -1;
    return this.starts[si] + (this.hasHeader(s) ? 1 : 0) + (seq - s.from);
  }

  rowOfSection(key: string): number {
    const si = this.sections.findIndex((s) => s.key === key);
    return si < 0 ? -1 : this.starts[si];
  }

  /** The seq range shown by rows [start, stop]: what to fetch. Headers are few, so the scans are short. */
  seqRange(start: number, stop: number): [number, number] | undefined {
    let lo: number | undefined;
    let hi: number | undefined;
    for (let i = start; i <= stop && lo === undefined; i++) {
      const r = this.rowAt(i);
      if (r?.kind === 'line') lo = r.seq;
    }
    for (let i = stop; i >= start && hi === undefined; i--) {
      const r = this.rowAt(i);
      if (r?.kind === 'line') hi = r.seq;
    }
    return lo === undefined || hi === undefined ? undefined : [lo, hi];
  }
}
