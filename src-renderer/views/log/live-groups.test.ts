import { describe, expect, it } from 'vitest';
import type { LogGroup } from '../../../shared/model/job-records.js';
import type { LogLine } from '../../../shared/model/run.js';
import { groupsOfLiveLines, mergeGroups } from './live-groups.js';

const line = (seq: number, text: string, step: number | null = 0, stream: LogLine['stream'] = 'stdout'): LogLine => ({ seq, ts: 0, stream, step, text });

describe('groupsOfLiveLines', () => {
  it('opens and closes groups from the markers of streamed lines, nested ones one level deeper', () => {
    const changed = groupsOfLiveLines([], [line(0, '::group::Build'), line(1, 'x'), line(2, '::group::Inner'), line(3, '::endgroup::'), line(4, '::endgroup::')]);
    expect(changed).toEqual([
      { start: 0, end: 4, endMarker: true, depth: 0, step: 0, title: 'Build' },
      { start: 2, end: 3, endMarker: true, depth: 1, step: 0, title: 'Inner' },
    ]);
  });

  it('closes a group it already knew open, and closes open groups where another step begins', () => {
    const known: LogGroup[] = [{ start: 5, end: null, endMarker: false, depth: 0, step: 1, title: 'Known' }];
    expect(groupsOfLiveLines(known, [line(9, '::endgroup::', 1)])).toEqual([{ ...known[0], end: 9, endMarker: true }]);
    expect(groupsOfLiveLines(known, [line(9, 'next step', 2)])).toEqual([{ ...known[0], end: 9, endMarker: false }]);
    // Kiln's job-level lines may come while a step runs: they close nothing.
    expect(groupsOfLiveLines(known, [line(9, 'warning: …', null, 'system')])).toEqual([]);
  });

  it('ignores Kiln\'s own lines, job-level lines and ordinary lines', () => {
    expect(groupsOfLiveLines([], [line(0, '::group::not a command', 0, 'system'), line(1, '::group::job level', null), line(2, 'plain ::group::')])).toEqual([]);
  });
});

describe('mergeGroups', () => {
  it('replaces by start and keeps order, but an older answer never reopens a closed group', () => {
    const closed: LogGroup = { start: 3, end: 7, endMarker: true, depth: 0, step: 0, title: 'A' };
    const merged = mergeGroups([closed], [{ ...closed, end: null, endMarker: false }, { start: 1, end: null, endMarker: false, depth: 0, step: 0, title: 'B' }]);
    expect(merged.map((g) => [g.start, g.end])).toEqual([[1, null], [3, 7]]);
  });
});
