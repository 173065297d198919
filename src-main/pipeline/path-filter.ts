/**
 * Path filters (`on.push.paths`, `paths-ignore`, the same under `on.pull_request`) and the
 * `changed('glob', …)` condition, with GitHub Actions' filter patterns and rules.
 *
 * Why not picomatch, which the branch filters use: GitHub's file-path patterns are not shell globs.
 * `?` and `+` repeat the character before them (`*.jsx?` matches page.js and page.jsx), `**.js`
 * crosses directories (it matches src/js/app.js) and `**\/` may match nothing (`**\/README.md`
 * matches README.md). A pipeline moved from GitHub must select the same files, so the patterns are
 * translated to regular expressions by GitHub's documented rules ("Filter pattern cheat sheet"):
 *   `**\/` → any directories or none   `**` → anything, `/` included   `*` → anything but `/`
 *   `x?` `x+` → x zero-or-one, one-or-more   `[a-z0-9]` → one character of the set
 *   `\c` → the character c   `!` first → the pattern excludes
 *
 * Rules (GitHub's):
 * - `paths`: the run happens when at least one changed file is included. Patterns are read in order
 *   and the last one matching a file decides (`!` excludes, a later pattern re-includes).
 * - `paths-ignore`: the run happens unless every changed file is ignored.
 * - one event cannot have both (use `!` inside `paths` instead) — a validation error;
 * - no changed files: a filtered pipeline does not run;
 * - "everything changed" (a diff over the cap, an unknown previous head): filters let the run through.
 * Tag pushes are not path-filtered (GitHub ignores path filters for tags).
 */
import type { ChangeSet } from '../../shared/model/change-set.js';

export interface PathFilter {
  paths?: readonly string[];
  pathsIgnore?: readonly string[];
}

interface CompiledPattern {
  negative: boolean;
  regex: RegExp;
}

/** A pattern GitHub would reject; `index` is 0-based into the pattern (after a leading `!`). */
export class PathPatternError extends Error {
  constructor(readonly reason: string, readonly index: number) {
    super(reason);
    this.name = 'PathPatternError';
  }
}

const escape = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const isRangeChar = (c: string | undefined): boolean => c !== undefined && ((c >= 'A' && c <= 'z') || (c >= '0' && c <= '9'));

/** GitHub filter pattern (without its `!`) → regular expression source. Throws PathPatternError. */
export function patternToRegexSource(pattern: string): string {
  let out = '^';
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        if (pattern[i + 2] === '/') {
          out += '(?:.+/)?';
          i += 3;
        } else {
          out += '.*';
          i += 2;
        }
      } else {
        out += '[^/]*';
        i++;
      }
    } else if (c === '?' || c === '+') {
      // A quantifier of the character before it; first in the pattern it is a plain character.
      out += i === 0 ? escape(c) : c;
      i++;
    } else if (c === '[') {
      const start = i;
      i++;
      if (pattern[i] === ']') throw new PathPatternError("empty brackets '[]'", i);
      let set = '';
      while (i < pattern.length && pattern[i] !== ']') {
        const ch = pattern[i];
        if (ch === '-' && set !== '' && isRangeChar(pattern[i - 1]) && isRangeChar(pattern[i + 1]) && pattern[i + 1] !== ']') {
          if (pattern[i - 1] > pattern[i + 1]) throw new PathPatternError(`invalid range '${pattern[i - 1]}-${pattern[i + 1]}'`, i);
          set += `-${escape(pattern[i + 1])}`;
          i += 2;
          continue;
        }
        if (!isRangeChar(ch)) throw new PathPatternError(`'${ch}' cannot appear in brackets: a set holds only a-z, A-Z, 0-9 and ranges of them`, i);
        set += escape(ch);
        i++;
      }
      if (i >= pattern.length) throw new PathPatternError("missing ']' after '['", start);
      out += `[${set}]`;
      i++;
    } else if (c === '\\') {
      if (i + 1 >= pattern.length) throw new PathPatternError("nothing after '\\'", i);
      out += escape(pattern[i + 1]);
      i += 2;
    } else {
      out += escape(c);
      i++;
    }
  }
  return `${out}$`;
}

const compiled = new Map<string, CompiledPattern>();
const CACHE_SIZE = 512;

/** Compiles a pattern (a leading `!` makes it exclude); cached. Throws PathPatternError. */
export function compilePathPattern(raw: string): CompiledPattern {
  const hit = compiled.get(raw);
  if (hit) return hit;
  const negative = raw.startsWith('!');
  const body = negative ? raw.slice(1) : raw;
  if (body === '') throw new PathPatternError('empty pattern', 0);
  let regex: RegExp;
  try {
    regex = new RegExp(patternToRegexSource(body));
  } catch (e) {
    if (e instanceof PathPatternError) throw e;
    // e.g. `**/+`: a quantifier with nothing to repeat.
    throw new PathPatternError(`not a valid pattern (${(e as Error).message.replace(/^Invalid regular expression: /, '')})`, 0);
  }
  const pattern = { negative, regex };
  if (compiled.size >= CACHE_SIZE) compiled.delete(compiled.keys().next().value as string);
  compiled.set(raw, pattern);
  return pattern;
}

/** Why a pattern is invalid ("… at character N"), or undefined when it is fine. */
export function pathPatternProblem(raw: string): string | undefined {
  try {
    compilePathPattern(raw);
    return undefined;
  } catch (e) {
    if (!(e instanceof PathPatternError)) throw e;
    return `${e.reason} (character ${e.index + 1 + (raw.startsWith('!') ? 1 : 0)})`;
  }
}

/** Whether the last pattern matching `file` includes it (undefined: no pattern matches). */
function lastVerdict(file: string, patterns: readonly CompiledPattern[]): boolean | undefined {
  let verdict: boolean | undefined;
  for (const p of patterns) if (p.regex.test(file)) verdict = !p.negative;
  return verdict;
}

/** `paths` semantics: at least one file is included by the list. */
export function anyIncluded(files: readonly string[], patterns: readonly string[]): boolean {
  const list = patterns.map(compilePathPattern);
  return files.some((f) => lastVerdict(f, list) === true);
}

/** `paths-ignore` semantics: every file is ignored by the list (true for no files). */
export function allIgnored(files: readonly string[], patterns: readonly string[]): boolean {
  const list = patterns.map(compilePathPattern);
  return files.every((f) => lastVerdict(f, list) === true);
}

/** Whether a path filter lets an event with these changes through. Unknown changes count as everything. */
export function pathFilterAllows(filter: PathFilter | undefined, changes: ChangeSet | undefined): boolean {
  if (!filter || (filter.paths === undefined && filter.pathsIgnore === undefined)) return true;
  if (!changes || changes.kind === 'everything') return true;
  if (filter.paths !== undefined) return anyIncluded(changes.files, filter.paths);
  return !allIgnored(changes.files, filter.pathsIgnore ?? []);
}

/** `changed('docs/**', '!docs/api/**')`: `paths` semantics over the run's changes; unknown changes → true. */
export function changedMatches(changes: ChangeSet | undefined, patterns: readonly string[]): boolean {
  if (!changes || changes.kind === 'everything') return true;
  return anyIncluded(changes.files, patterns);
}

/** True when a filter has path patterns (so the engine must compute the changed files). */
export function hasPathFilter(filter: PathFilter | undefined): boolean {
  return filter !== undefined && (filter.paths !== undefined || filter.pathsIgnore !== undefined);
}
