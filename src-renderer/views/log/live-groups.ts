/**
 * Log groups of a running job as its lines stream in. The stored group metadata reaches the viewer
 * by polling (use-log-groups.ts), so without this a streamed `::group::X` or `::endgroup::` would show
 * as a raw line until the next poll. The same rules as the engine's (src-main/executor/step-commands.ts):
 * only a step's stdout/stderr lines are commands, an `::endgroup::` closes the innermost open group,
 * and groups do not span steps (the first line of the next step closes them). What this works out is provisional: the stored groups replace it
 * on the next poll (a closed group is never reopened by an older answer: see mergeGroups).
 */
import type { LogGroup } from '../../../shared/model/job-records.js';
import type { LogLine } from '../../../shared/model/run.js';
import { parseWorkflowCommand } from '../../../shared/model/workflow-commands.js';

/** The groups that `lines` open or close, given the groups known so far (sorted by start). */
export function groupsOfLiveLines(known: readonly LogGroup[], lines: readonly LogLine[]): LogGroup[] {
  const open = known.filter((g) => g.end === null);
  const changed = new Map<number, LogGroup>();
  for (const line of lines) {
    // A line of another step closes the groups still open where their step ended. (Not a job-level
    // line: Kiln may say something while a step runs; the stored groups close those in time.)
    while (line.step !== null && open.length > 0 && open[open.length - 1].step !== line.step) {
      const g = open.pop()!;
      changed.set(g.start, { ...g, end: Math.max(g.start + 1, line.seq), endMarker: false });
    }
    // The cheap test first: almost no line starts with "::".
    if (line.step === null || line.stream === 'system' || line.text.charCodeAt(0) !== 58) continue;
    const command = parseWorkflowCommand(line.text);
    if (command?.kind === 'group') {
      const g: LogGroup = { start: line.seq, end: null, endMarker: false, depth: open.length, step: line.step, title: command.title };
      open.push(g);
      changed.set(g.start, g);
    } else if (command?.kind === 'endgroup') {
      const g = open.pop();
      if (g) changed.set(g.start, { ...g, end: line.seq, endMarker: true });
    }
  }
  return [...changed.values()];
}

/** `prev` with `fresh` put in by start, sorted; a group `prev` knows closed stays closed. */
export function mergeGroups(prev: readonly LogGroup[], fresh: readonly LogGroup[]): LogGroup[] {
  if (fresh.length === 0) return prev.slice();
  const byStart = new Map(prev.map((g) => [g.start, g]));
  for (const g of fresh) {
    const old = byStart.get(g.start);
    if (old && old.end !== null && g.end === null) continue;
    byStart.set(g.start, g);
  }
  return [...byStart.values()].sort((a, b) => a.start - b.start);
}
