import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../shared/diagnostics.js';
import { patternProblem } from '../../shared/workspace-pattern.js';
import { parsePipeline } from './parse.js';

const lines = (text: string): string[] => parsePipeline(text, '.kiln.yml').diagnostics.map(formatDiagnostic);

const job = (extra: string): string => `jobs:
  build:
    image: node:22
${extra}
    steps:
      - run: make
`;

describe('workspace paths in a pipeline', () => {
  it('refuses absolute, .. and malformed artifact patterns and cache paths at each entry', () => {
    const out = lines(job(`    artifacts: { paths: ["../x/**", "a/[]", "/etc/passwd", "ok/{a,b}/*.js"] }
    cache: { key: k, paths: ["../up", "node_modules"] }`));
    expect(out).toEqual([
      `.kiln.yml:4:26: job 'build' artifacts.paths: artifact pattern '../x/**' contains '..': artifact patterns cannot leave the workspace, e.g. 'dist/**'`,
      `.kiln.yml:4:37: job 'build' artifacts.paths: artifact pattern 'a/[]' has an unclosed or empty '[' at character 3, e.g. 'dist/**'`,
      `.kiln.yml:4:45: job 'build' artifacts.paths: artifact pattern '/etc/passwd' is absolute: artifact patterns are relative to the workspace, e.g. 'dist/**'`,
      `.kiln.yml:5:30: job 'build' cache.paths: cache path '../up' contains '..': cache paths cannot leave the workspace, e.g. 'node_modules'`,
    ]);
  });

  it('accepts templated patterns, whose variables are checked only when rendered', () => {
    expect(lines(job('    artifacts: { paths: ["dist/${{ env.TARGET }}/**", "${OUT}/*.zip"] }'))).toEqual([]);
  });

  it('uses the same words at run time as kiln validate, with brackets literal in cache paths', () => {
    expect(patternProblem('a/[]')).toBe("has an unclosed or empty '[' at character 3");
    expect(patternProblem('x/[z-a].txt')).toBe("has a reversed range '[z-a]' at character 3");
    expect(patternProblem('x/{a,b')).toBe("has a '{' without '}'");
    expect(patternProblem('x/[ab]/{c,d}/**')).toBeUndefined();
    expect(patternProblem('dir[1]', 'cache', { glob: false })).toBeUndefined();
    expect(patternProblem('/abs', 'cache', { glob: false })).toBe('is absolute: cache paths are relative to the workspace');
  });
});

describe('knock-on diagnostics', () => {
  it('reports a matrix variable that is not a list once, not also as a matrix with no jobs', () => {
    expect(lines(job('    matrix: { n: 3 }'))).toEqual([".kiln.yml:4:18: job 'build': matrix.n must be a list, got '3'"]);
  });

  it('reports a misspelt required key as the typo only, not also as the missing key', () => {
    const out = lines(job('').replace('image:', 'imgae:'));
    expect(out).toEqual([".kiln.yml:3:5: unknown key 'imgae' in job 'build' (did you mean 'image'?)"]);
  });

  it('still reports a missing required key when no unknown key resembles it', () => {
    expect(lines(job('').replace('    image: node:22\n', ''))).toEqual([".kiln.yml:2:3: job 'build' is missing required key 'image'"]);
  });
});
