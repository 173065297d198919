/**
 * Workflow commands in one step's output (shared/model/workflow-commands.ts has the syntax): turns
 * `::group::`/`::endgroup::` lines into log groups and `::error`/`::warning`/`::notice` lines into
 * annotations. Every line is still appended to the log as written (the raw log and search stay
 * faithful); what this adds is the metadata a viewer folds and lists by, keyed by the line's seq.
 *
 * Lines arrive here already masked (log-capture.ts masks bytes before splitting), so a secret never
 * reaches a group title or an annotation. Groups do not span steps: those still open when the step
 * ends are closed there. Limits keep a chatty step from flooding storage: past them a command is an
 * ordinary line, and one warning line says so.
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

/** The job-wide side: counts against the limits, the record sink, the warning line. */
export interface CommandSink {
  limits: CommandLimits;
  counts: { groups: number; annotations: number; warned: Set<string> };
  record(r: JobRecord): void;
  /** A system line (the limit warnings). */
  warn(text: string): void;
}

export class StepCommands {
  private readonly open: LogGroup[] = [];
  /** Groups refused by a limit and not yet ended: their ::endgroup:: must not close an outer group. */
  private refused = 0;

  constructor(
    private readonly step: number,
    private readonly sink: CommandSink,
    private readonly append: (stream: LogStream, text: string) => LogLine | void,
  ) {}

  /** Appends one line of the step's stdout or stderr and records what it commands. */
  line(stream: LogStream, text: string): void {
    const stored = this.append(stream, text);
    const cmd = parseWorkflowCommand(text);
    if (!cmd || !stored) return;
    const { sink } = this;
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
    } else {
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
