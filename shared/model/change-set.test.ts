import { describe, expect, it } from 'vitest';
import { everythingChangedLine, runChangesOf } from './change-set.js';

describe('the run view\'s line about the changed files path filters saw', () => {
  it.each([
    ['a diff over the cap: the cap and the count', { kind: 'everything', reason: '4211 files changed, more than the limit of 3000', overLimit: { files: 4211, limit: 3000 } } as const,
      'changed files: more than 3,000 (4,211 files) — path filters treated everything as changed'],
    ['changes that could not be computed: why', { kind: 'everything', reason: 'the previous head 0123456789ab is not in the mirror' } as const,
      'changed files: not known (the previous head 0123456789ab is not in the mirror) — path filters treated everything as changed'],
    ['the real list of files: no line', { kind: 'files', count: 2, range: 'a..b' } as const, undefined],
    ['a pipeline that looks at no files: no line', undefined, undefined],
  ])('%s', (_name, changes, expected) => {
    expect(everythingChangedLine(changes)).toBe(expected);
  });

  it('records the count and range of a file list, not the files', () => {
    expect(runChangesOf({ kind: 'files', files: ['a', 'b', 'c'], range: 'x..y' })).toEqual({ kind: 'files', count: 3, range: 'x..y' });
  });
});
