import { describe, expect, it } from 'vitest';
import type { ChangeSet } from '../../shared/model/change-set.js';
import { allIgnored, anyIncluded, changedMatches, pathFilterAllows, pathPatternProblem } from './path-filter.js';

// GitHub's "Filter pattern cheat sheet" (Workflow syntax for GitHub Actions → Patterns to match
// file paths): each pattern with the example files GitHub lists as matching, and files it does not.
const CHEAT_SHEET: { patterns: string[]; matches: string[]; not: string[] }[] = [
  { patterns: ['*'], matches: ['README.md', 'server.rb'], not: ['docs/README.md'] },
  { patterns: ['*.jsx?'], matches: ['page.js', 'page.jsx'], not: ['page.jsxx', 'src/page.js'] },
  { patterns: ['**'], matches: ['all/the/files.md'], not: [] },
  { patterns: ['*.js'], matches: ['app.js', 'index.js'], not: ['js/index.js'] },
  { patterns: ['**.js'], matches: ['index.js', 'js/index.js', 'src/js/app.js'], not: ['index.json'] },
  { patterns: ['docs/*'], matches: ['docs/README.md', 'docs/file.txt'], not: ['docs/mona/octocat.txt', 'README.md'] },
  { patterns: ['docs/**'], matches: ['docs/README.md', 'docs/mona/octocat.txt'], not: ['src/docs.md', 'mydocs/a.md'] },
  { patterns: ['docs/**/*.md'], matches: ['docs/README.md', 'docs/mona/hello-world.md', 'docs/a/markdown/file.md'], not: ['docs/a.txt'] },
  { patterns: ['**/docs/**'], matches: ['docs/hello.md', 'dir/docs/my-file.txt', 'space/docs/plan/space.doc'], not: ['dir/docs.md'] },
  { patterns: ['**/README.md'], matches: ['README.md', 'js/README.md'], not: ['README.mdx'] },
  { patterns: ['**/*src/**'], matches: ['a/src/app.js', 'my-src/code/js/app.js'], not: ['src.js'] },
  { patterns: ['**/*-post.md'], matches: ['my-post.md', 'path/their-post.md'], not: ['post.md'] },
  { patterns: ['**/migrate-*.sql'], matches: ['migrate-10909.sql', 'db/migrate-v1.0.sql', 'db/sept/migrate-v1.sql'], not: ['db/migrate.sql'] },
  { patterns: ['*.md', '!README.md'], matches: ['hello.md'], not: ['README.md', 'docs/hello.md'] },
  { patterns: ['*.md', '!README.md', 'README*'], matches: ['hello.md', 'README.md', 'README.doc'], not: [] },
  // Branch-pattern examples GitHub gives for the same syntax.
  { patterns: ['v[12].[0-9]+.[0-9]+'], matches: ['v1.10.1', 'v2.0.0'], not: ['v3.0.0', 'v1.x.1'] },
  { patterns: ['\\!file'], matches: ['!file'], not: ['file'] },
];

describe('GitHub filter patterns (the cheat sheet)', () => {
  for (const row of CHEAT_SHEET) {
    for (const file of row.matches) {
      it(`${JSON.stringify(row.patterns)} includes ${file}`, () => expect(anyIncluded([file], row.patterns)).toBe(true));
    }
    for (const file of row.not) {
      it(`${JSON.stringify(row.patterns)} does not include ${file}`, () => expect(anyIncluded([file], row.patterns)).toBe(false));
    }
  }
});

const files = (...list: string[]): ChangeSet => ({ kind: 'files', files: list, range: 'a..b' });

describe('when a push is filtered on its changed files', () => {
  const cases: { name: string; filter: { paths?: string[]; pathsIgnore?: string[] }; changes: ChangeSet; runs: boolean }[] = [
    // GitHub's "Including paths" example: paths: ['**.js'].
    { name: 'paths **.js runs when a JavaScript file changed', filter: { paths: ['**.js'] }, changes: files('README.md', 'app/index.js'), runs: true },
    { name: 'paths **.js does not run for a docs-only change', filter: { paths: ['**.js'] }, changes: files('README.md', 'docs/a.md'), runs: false },
    // "Excluding paths": paths-ignore: ['docs/**'] runs unless every file is under docs/.
    { name: 'paths-ignore docs/** does not run when only docs changed', filter: { pathsIgnore: ['docs/**'] }, changes: files('docs/a.md', 'docs/b/c.md'), runs: false },
    { name: 'paths-ignore docs/** runs when a file outside docs changed too', filter: { pathsIgnore: ['docs/**'] }, changes: files('docs/a.md', 'src/x.ts'), runs: true },
    // "Including and excluding paths": paths: ['sub-project/**', '!sub-project/docs/**'].
    { name: 'a negated pattern excludes docs of the sub-project', filter: { paths: ['sub-project/**', '!sub-project/docs/**'] }, changes: files('sub-project/docs/readme.md'), runs: false },
    { name: 'any other file of the sub-project runs it', filter: { paths: ['sub-project/**', '!sub-project/docs/**'] }, changes: files('sub-project/docs/readme.md', 'sub-project/main.c'), runs: true },
    { name: 'a later pattern re-includes a negated file', filter: { paths: ['sub-project/**', '!sub-project/docs/**', 'sub-project/docs/api.md'] }, changes: files('sub-project/docs/api.md'), runs: true },
    { name: 'no changed files: a filtered pipeline does not run', filter: { paths: ['**'] }, changes: files(), runs: false },
    { name: 'no changed files: paths-ignore does not run either', filter: { pathsIgnore: ['docs/**'] }, changes: files(), runs: false },
    { name: 'everything changed (over the cap) runs a paths filter', filter: { paths: ['src/**'] }, changes: { kind: 'everything', reason: 'more than 3000 files' }, runs: true },
    { name: 'everything changed runs a paths-ignore filter', filter: { pathsIgnore: ['**'] }, changes: { kind: 'everything', reason: 'new branch' }, runs: true },
    { name: 'no filter runs whatever changed', filter: {}, changes: files(), runs: true },
  ];
  for (const c of cases) it(c.name, () => expect(pathFilterAllows(c.filter, c.changes)).toBe(c.runs));

  it('treats unknown changes as everything changed', () => expect(pathFilterAllows({ paths: ['src/**'] }, undefined)).toBe(true));
  it('paths-ignore with a negation keeps a re-included file relevant', () => {
    expect(allIgnored(['docs/a.md', 'docs/keep.md'], ['docs/**', '!docs/keep.md'])).toBe(false);
    expect(allIgnored(['docs/a.md'], ['docs/**', '!docs/keep.md'])).toBe(true);
  });
});

describe('changed() over a change set', () => {
  it('is true when one changed file matches one of the patterns', () => expect(changedMatches(files('docs/a.md'), ['src/**', 'docs/**'])).toBe(true));
  it('is false when no changed file matches', () => expect(changedMatches(files('src/a.ts'), ['docs/**'])).toBe(false));
  it('is true when everything changed', () => expect(changedMatches({ kind: 'everything', reason: 'x' }, ['docs/**'])).toBe(true));
});

describe('invalid patterns are reported, not thrown', () => {
  for (const [pattern, reason] of [
    ['src/[]', "empty brackets '[]' (character 6)"],
    ['src/[ab', "missing ']' after '[' (character 5)"],
    ['src/[z-a]', "invalid range 'z-a' (character 7)"],
    ['a\\', "nothing after '\\' (character 2)"],
    ['!', 'empty pattern (character 2)'],
  ] as const) {
    it(`'${pattern}': ${reason}`, () => expect(pathPatternProblem(pattern)).toBe(reason));
  }
  it('accepts every cheat-sheet pattern', () => {
    for (const row of CHEAT_SHEET) for (const p of row.patterns) expect(pathPatternProblem(p)).toBeUndefined();
  });
});
