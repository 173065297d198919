/**
 * The one rule for globs that name files of a job's workspace (artifacts, test reports): relative
 * to the workspace, never absolute, never leaving it with `..`. Pure, so `kiln validate` (pipeline
 * checks) and collection after the job (storage) refuse the same patterns with the same words.
 */

/** Why a pattern is refused, or undefined when it is a valid workspace-relative glob. `what` names the key ('artifact', 'report'). */
export function patternProblem(pattern: string, what = 'artifact'): string | undefined {
  const p = pattern.startsWith('!') ? pattern.slice(1) : pattern;
  if (p.trim() === '') return 'is empty';
  if (p.startsWith('/') || p.startsWith('~') || /^[A-Za-z]:/.test(p) || p.startsWith('\\')) {
    return `is absolute: ${what} patterns are relative to the workspace`;
  }
  if (p.split(/[\\/]/).includes('..')) return `contains '..': ${what} patterns cannot leave the workspace`;
  return undefined;
}
