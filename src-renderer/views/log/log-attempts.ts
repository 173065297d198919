import { isInterruptedAttempt, type LogGroup } from '../../../shared/model/job-records.js';
import type { LogSection } from './log-rows.js';

/**
 * An interrupted attempt's lines (Kiln stopped under the job, or its engine was lost) as a section of
 * their own. A job's log is one numbering across attempts and the new attempt's steps own the step
 * sections, so by seq range the whole earlier attempt would sit under "Set up job" (or under a step
 * of the earlier attempt that has not started again). The engine wraps each earlier attempt in a
 * top-level group (isInterruptedAttempt); its range is cut out of every section it overlaps and
 * becomes a section titled by the group, and the group is no longer a group row. A step whose only
 * lines were in the earlier attempt shows as not started. O(sections × attempts).
 */
export function splitAttempts(sections: readonly LogSection[], groups: readonly LogGroup[]): { sections: LogSection[]; groups: readonly LogGroup[] } {
  const attempts = groups.filter((g) => isInterruptedAttempt(g) && g.end !== null && g.end > g.start);
  if (attempts.length === 0) return { sections: sections.slice(), groups };
  const total = sections.reduce((m, s) => Math.max(m, s.to), 0);
  const out: LogSection[] = attempts.map((g) => ({ key: attemptKey(g.start), title: g.title, step: null, from: Math.min(g.start, total), to: Math.min(g.end!, total) }));
  for (const s of sections) {
    let parts = [{ from: s.from, to: s.to }];
    for (const g of attempts) parts = parts.flatMap((p) => without(p, g.start, g.end!));
    // A step that started in an earlier attempt and not again yet: not started; whatever of its
    // range is past that attempt is the new attempt's set-up.
    const stale = s.step !== null && attempts.some((g) => s.from >= g.start && s.from < g.end! && s.from < s.to);
    if (stale || (parts.length === 0 && s.step)) out.push({ ...s, from: total, to: total });
    const as = stale ? { key: 'setup', title: 'Set up job', step: null } : s;
    parts.forEach((p, i) => out.push({ ...s, ...as, key: i === 0 && !out.some((o) => o.key === as.key) ? as.key : `${as.key}:${p.from}`, from: p.from, to: p.to }));
  }
  // Stable: sections that start together (not started yet, at the end) keep their order.
  out.sort((a, b) => a.from - b.from);
  const wrappers = new Set(attempts);
  return { sections: out, groups: groups.filter((g) => !wrappers.has(g)) };
}

export function attemptKey(start: number): string {
  return `attempt:${start}`;
}

export function isAttemptSection(s: LogSection): boolean {
  return s.key.startsWith('attempt:');
}

/** `p` less [start, end): nothing, one or two non-empty ranges. */
function without(p: { from: number; to: number }, start: number, end: number): Array<{ from: number; to: number }> {
  if (p.to <= p.from) return [];
  if (end <= p.from || start >= p.to) return [p];
  return [{ from: p.from, to: start }, { from: end, to: p.to }].filter((r) => r.to > r.from);
}
