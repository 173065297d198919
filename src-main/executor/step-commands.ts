/**
 * Workflow commands in one step's output (shared/model/workflow-commands.ts has the syntax): turns
 * `::group::`/`::endgroup::` lines into log groups and `::error`/`::warning`/`::notice` lines into
 * annotations. Every line is still appended to the log as written (the raw log and search stay
 * faithful); what this adds is the metadata a viewer folds and lists by, keyed by the line's seq.
 * Three commands change what the log holds instead:
 *   - `::add-mask::VALUE` hands VALUE to the job's log (sink.addMask) *before* its own line is
 *     appended, so that line already reads `::add-mask::***`, and so does every later line;
 *   - `::debug::` lines are appended only with step debug logging on (sink.debug), else dropped;
 *   - `::stop-commands::TOKEN` turns command processing off for the rest of the step, until a line
 *     `::TOKEN::`; lines in between are ordinary lines, whatever they say.
 *
 * Lines arrive here already masked (log-capture.ts masks bytes before splitting, then added masks
 * per line), so a secret never reaches a group title or an annotation. Groups do not span steps:
 * those still open when the step ends are closed there; so does a stop-commands. Limits keep a
 * chatty step from flooding storage: past them a command is an ordinary line, and one warning line
 * says so.
 */
import type { Annotation, LogGroup } from '../../shared/model/job-records.js';
import type { LogLine, LogStream } from '../../shared/model/run.js';
import { parseWorkflowCommand } from '../../shared/model/workflow-commands.js';
import type { JobRecord } from '../core/job-contract.js';

/** Per-job limits on what workflow commands may store. */
export interface CommandLimits {
  /** Groups per job (each is a stored row); default 50,000. */
  maxGroups: number;
  /** Annotations from steps per job; default 100 (Kiln's own are not counted). */
  maxAnnotations: number;
  /** Deepest nesting of groups; default 32. */
  maxDepth: number;
}

export const DEFAULT_COMMAND_LIMITS: CommandLimits = { maxGroups: 50_000, maxAnnotations: 100, maxDepth: 32 };

/**
 * Step debug logging (`::debug::` lines shown) is on when the job's env (pipeline `env:` or the
 * job's own) sets KILN_STEP_DEBUG to true.
 */
export function stepDebugEnabled(env: Readonly<Record<string, string>>): boolean {
  return (env.KILN_STEP_DEBUG ?? '').trim().toLowerCase() === 'true';
}

/** The job-wide side: counts against the limits, the record sink, the warning line, the masks. */
export interface CommandSink {
  limits: CommandLimits;
  /** Step debug logging: `::debug::` lines are shown. */
  debug: boolean;
  /** Masks `value` in every line appended from now on (and in what else the job's log masks). */
  addMask(value: string): void;
  counts: { groups: number; annotations: number; warned: Set<string> };
  record(r: JobRecord): void;
  /** A system line (the limit warnings). */
  warn(text: string): void;
}

export class StepCommands {
  private readonly open: LogGroup[] = [];
  /** Groups refused by a limit and not yet ended: their ::endgroup:: must not close an outer group. */
  private refused = 0;
  /** Set by `::stop-commands::TOKEN`: commands are off until the line `::TOKEN::`. */
  private stopToken: string | undefined;

  constructor(
    private readonly step: number,
    private readonly sink: CommandSink,
    private readonly append: (stream: LogStream, text: string) => LogLine | void,
  ) {}

  /** Appends one line of the step's stdout or stderr and records what it commands. */
  line(stream: LogStream, text: string): void {
    if (this.stopToken !== undefined) {
      if (text.trimEnd() === `::${this.stopToken}::`) this.stopToken = undefined;
      this.append(stream, text);
      return;
    }
    const cmd = parseWorkflowCommand(text);
    const { sink } = this;
    if (cmd?.kind === 'debug' && !sink.debug) return;
    if (cmd?.kind === 'add-mask') sink.addMask(cmd.value);
    if (cmd?.kind === 'stop-commands') this.stopToken = cmd.token;
    const stored = this.append(stream, text);
    if (!cmd || !stored) return;
    if (cmd.kind === 'group') {
      if (!this.allowed('groups', sink.counts.groups < sink.limits.maxGroups && this.open.length < sink.limits.maxDepth)) {
        this.refused++;
        return;
      }
      sink.counts.groups++;
      const group: LogGroup = { start: stored.seq, end: null, endMarker: false, depth: this.open.length, step: this.step, title: cmd.title };
      this.open.push(group);
      sink.record({ kind: 'group', group: { ...group } });
    } else if (cmd.kind === 'endgroup') {
      if (this.refused > 0) {
        this.refused--;
        return;
      }
      const group = this.open.pop();
      if (!group) return; // an endgroup without a group is an ordinary line
      sink.record({ kind: 'group', group: { ...group, end: stored.seq, endMarker: true } });
    } else if (cmd.kind === 'annotation') {
      if (!this.allowed('annotations', sink.counts.annotations < sink.limits.maxAnnotations)) return;
      sink.counts.annotations++;
      const { kind: _kind, ...fields } = cmd;
      const annotation: Omit<Annotation, 'jobId'> = { ...fields, source: 'step', seq: stored.seq, step: this.step };
      sink.record({ kind: 'annotation', annotation });
    }
  }

  /** The step ended: groups still open close before `nextSeq` (the first seq after the step's lines). */
  end(nextSeq: number): void {
    for (let g = this.open.pop(); g; g = this.open.pop()) this.sink.record({ kind: 'group', group: { ...g, end: Math.max(g.start + 1, nextSeq), endMarker: false } });
  }

  private allowed(what: 'groups' | 'annotations', ok: boolean): boolean {
    if (ok) return true;
    if (!this.sink.counts.warned.has(what)) {
      this.sink.counts.warned.add(what);
      const l = this.sink.limits;
      this.sink.warn(what === 'groups'
        ? `warning: more than ${l.maxGroups.toLocaleString('en')} log groups (or groups nested deeper than ${l.maxDepth}): further ::group:: lines are shown as ordinary lines`
        : `warning: more than ${l.maxAnnotations} annotations: further ::error, ::warning and ::notice lines are not listed as annotations`);
    }
    return false;
  }
}
