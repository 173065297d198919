/**
 * The one rule for paths and globs that name files of a job's workspace (artifacts, test reports,
 * cache paths): relative to the workspace, never absolute, never leaving it with `..`, and for
 * globs well formed. Pure, so `kiln validate` (pipeline checks) and the run time (storage) refuse
 * the same patterns with the same words.
 */

/** Why a glob's brackets/braces are malformed (picomatch would silently match them literally), or undefined. */
function globSyntaxProblem(p: string): string | undefined {
  let braces = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      const start = p[i + 1] === '!' || p[i + 1] === '^' ? i + 2 : i + 1;
      const close = p.indexOf(']', start);
      if (close <= start) return `has an unclosed or empty '[' at character ${i + 1}`;
      const body = p.slice(i + 1, close);
      const range = /^[!^]?(.)-(.)$/.exec(body);
      if (range && range[1] > range[2]) return `has a reversed range '[${body}]' at character ${i + 1}`;
      i = close;
    } else if (c === '{') braces++;
    else if (c === '}' && --braces < 0) return `has a '}' without '{' at character ${i + 1}`;
  }
  return braces > 0 ? "has a '{' without '}'" : undefined;
}

/**
 * Why a pattern is refused, or undefined when it is a valid workspace-relative path. `what` names
 * the key ('artifact', 'report', 'cache'); `glob: false` for literal paths (cache), whose brackets
 * are just characters.
 */
export function patternProblem(pattern: string, what = 'artifact', { glob = true } = {}): string | undefined {
  const p = glob && pattern.startsWith('!') ? pattern.slice(1) : pattern;
  if (p.trim() === '') return 'is empty';
  const noun = glob ? 'patterns' : 'paths';
  if (p.startsWith('/') || p.startsWith('~') || /^[A-Za-z]:/.test(p) || p.startsWith('\\')) {
    return `is absolute: ${what} ${noun} are relative to the workspace`;
  }
  if (p.split(/[\\/]/).includes('..')) return `contains '..': ${what} ${noun} cannot leave the workspace`;
  return glob ? globSyntaxProblem(p) : undefined;
}
