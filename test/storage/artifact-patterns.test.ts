import { describe, expect, it } from 'vitest';
import { formatBytes } from '../../shared/format.js';
import { archiveRoots, contentTypeFor, patternProblem, workspaceMatcher } from '../../src-main/storage/artifact-store.js';
import { artifactsWanted } from '../../src-main/engine/job-storage-hooks.js';

describe('artifact patterns', () => {
  it.each([
    ['dist/**', undefined],
    ['./out/*.txt', undefined],
    ['!dist/*.map', undefined],
    ['/etc/passwd', 'is absolute: artifact patterns are relative to the workspace'],
    ['~/secrets', 'is absolute: artifact patterns are relative to the workspace'],
    ['C:/x', 'is absolute: artifact patterns are relative to the workspace'],
    ['../x', "contains '..': artifact patterns cannot leave the workspace"],
    ['a/../../x', "contains '..': artifact patterns cannot leave the workspace"],
    ['a\\..\\x', "contains '..': artifact patterns cannot leave the workspace"],
    ['', 'is empty'],
  ])('%j → %s', (pattern, problem) => {
    expect(patternProblem(pattern)).toBe(problem);
  });

  it('matches files by glob, by a directory name, and honours exclusions', () => {
    const m = workspaceMatcher(['dist/**', 'coverage', '*.xml', '!dist/**/*.map']);
    expect(['dist/a.js', 'dist/x/.hidden', 'coverage/lcov/info', 'report.xml'].filter(m)).toHaveLength(4);
    expect(['dist/a.js.map', 'dist/x/y.map', 'src/a.js', 'sub/report.xml', 'coverage2/x'].filter(m)).toEqual([]);
  });

  it('archives only the first directory of each literal prefix, or the whole workspace for a leading glob', () => {
    expect(archiveRoots(['dist/**', 'dist/sub/x', 'out/a.txt', '!tmp/**'])).toEqual(['dist', 'out']);
    expect(archiveRoots(['dist/**', '**/*.jar'])).toEqual(['']);
    expect(archiveRoots(['*.txt'])).toEqual(['']);
  });

  it('collects for on_success only after passed steps, for on_failure after failed or timed out ones', () => {
    expect(artifactsWanted('on_success', 'passed')).toBe(true);
    expect(artifactsWanted('on_success', 'failed')).toBe(false);
    expect(artifactsWanted('on_failure', 'failed')).toBe(true);
    expect(artifactsWanted('on_failure', 'timed_out')).toBe(true);
    expect(artifactsWanted('on_failure', 'passed')).toBe(false);
    expect(artifactsWanted('always', 'failed')).toBe(true);
  });

  it('serves downloads with a content type by extension and formats sizes for logs', () => {
    expect(contentTypeFor('dist/app.js')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeFor('report.JSON')).toBe('application/json');
    expect(contentTypeFor('bin/tool')).toBe('application/octet-stream');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(12.3 * 1024 * 1024)).toBe('12.3 MB');
  });
});
