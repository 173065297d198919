/**
 * Whether a pipeline runs for an event, by its `on:` block. Globs are picomatch globs (`*` stays
 * within one path segment, `**` crosses them: `release/*` matches `release/1.2`, not `release/1/2`).
 * A pattern starting with `!` excludes; the last pattern that matches decides.
 *
 * - push events match `on.push.branches` (absent → any branch; but when only `tags` is given,
 *   branch pushes do not run — as in GitHub Actions);
 * - tag events match `on.push.tags` only (absent → any tag, unless only `branches` is given);
 * - pull_request events match `on.pull_request.branches` against the BASE branch (absent → any);
 * - manual events run unless the pipeline opts out with `on.manual: false`: `on:` governs the
 *   automatic triggers, and someone asking for a run by hand should get one;
 * - no `on:` at all means: pushes to any branch, and manual runs;
 * - push and pull_request events must also pass their `paths` / `paths-ignore` filter, judged on
 *   the changes the engine computed (path-filter.ts; unknown changes let the run through). Tag
 *   pushes are never path-filtered, as in GitHub Actions.
 */
import type { ChangeSet } from '../../shared/model/change-set.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { globMatch } from './expressions.js';
import { hasPathFilter, pathFilterAllows } from './path-filter.js';
import type { Pipeline } from './pipeline-model.js';

/** True when `value` matches the pattern list; undefined patterns match everything. */
export function matchesPatterns(value: string | undefined, patterns: readonly string[] | undefined): boolean {
  if (patterns === undefined) return true;
  if (value === undefined || value === '') return false;
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (globMatch(value, p.slice(1))) matched = false;
    } else if (globMatch(value, p)) {
      matched = true;
    }
  }
  return matched;
}

/**
 * Whether planning this event needs the changed files: a path filter of its trigger, or a job
 * condition calling changed(). Tags never do (everything counts as changed for them).
 */
export function needsChangedFiles(pipeline: Pipeline, event: TriggerEvent): boolean {
  if (event.kind === 'tag') return false;
  if (event.kind === 'push' && hasPathFilter(pipeline.on.push)) return true;
  if (event.kind === 'pull_request' && hasPathFilter(pipeline.on.pullRequest)) return true;
  return pipeline.jobs.some((j) => j.if !== undefined && /\bchanged\s*\(/.test(j.if));
}

export function matchesTrigger(pipeline: Pipeline, event: TriggerEvent, changes?: ChangeSet): boolean {
  const on = pipeline.on;
  switch (event.kind) {
    case 'push': {
      if (!on.push) return false;
      if (on.push.branches === undefined && on.push.tags !== undefined) return false;
      return matchesPatterns(event.branch, on.push.branches) && pathFilterAllows(on.push, changes);
    }
    case 'tag': {
      if (!on.push) return false;
      if (on.push.tags === undefined && on.push.branches !== undefined) return false;
      return matchesPatterns(event.tag, on.push.tags);
    }
    case 'pull_request':
      if (!on.pullRequest) return false;
      return matchesPatterns(event.baseBranch, on.pullRequest.branches) && pathFilterAllows(on.pullRequest, changes);
    case 'manual':
      return on.manual;
    case 'schedule':
      return (on.schedule?.length ?? 0) > 0;
    default:
      return false;
  }
}
