/**
 * Workflow commands in a step's output, in GitHub Actions' syntax:
 *
 *   ::group::Title                 opens a foldable group (groups nest)
 *   ::endgroup::                   closes the innermost open group
 *   ::error file=F,line=L,col=C::message      an annotation (also ::warning and ::notice; the
 *                                  properties title, file, line, endLine, col, endColumn are optional)
 *   ::add-mask::VALUE              masks VALUE from the next line on, for the rest of the job
 *   ::debug::message               a line shown only with step debug logging on
 *   ::stop-commands::TOKEN         no command is processed until a line `::TOKEN::`
 *
 * Parsed after masking (the executor masks bytes before it splits lines), so a secret never reaches
 * an annotation. Data is percent-escaped as GitHub does: `%25` `%0D` `%0A` in messages, and also
 * `%3A` `%2C` in property values. Command names are case-insensitive, as in GitHub. Anything else
 * starting with `::` is an ordinary line. The `::TOKEN::` that resumes commands is not parsed here:
 * only the step that stopped them knows its token (step-commands.ts). Pure.
 */
import type { AnnotationLevel } from './job-records.js';

export type WorkflowCommand =
  | { kind: 'group'; title: string }
  | { kind: 'endgroup' }
  | { kind: 'annotation'; level: AnnotationLevel; message: string; title?: string; file?: string; line?: number; endLine?: number; col?: number; endCol?: number }
  | { kind: 'add-mask'; value: string }
  | { kind: 'debug'; message: string }
  | { kind: 'stop-commands'; token: string };

const COMMAND = /^::([a-z][a-z-]*)(?: ([^:]*))?::(.*)$/is;
const LEVELS: ReadonlySet<string> = new Set(['error', 'warning', 'notice']);

// Escapes are upper case only, as GitHub's runner reads them (and as the secret masker knows a
// secret's escaped forms): a lower-case `%3a` stays as printed, so no spelling unmasks a secret.
function unescapeData(s: string): string {
  return s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
}

function unescapeProperty(s: string): string {
  return unescapeData(s).replace(/%3A/g, ':').replace(/%2C/g, ',');
}

function positive(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,9}$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return n > 0 ? n : undefined;
}

/** The command a line is, or undefined for an ordinary line. Cheap for ordinary lines (one prefix check). */
export function parseWorkflowCommand(text: string): WorkflowCommand | undefined {
  if (text.charCodeAt(0) !== 58 || text.charCodeAt(1) !== 58) return undefined;
  const m = COMMAND.exec(text.trimEnd());
  if (!m) return undefined;
  const [, rawName, props = '', data] = m;
  const name = rawName.toLowerCase();
  if (name === 'add-mask') {
    // Surrounding blanks are not part of the value (a mask of '' or ' ' would mask everything).
    const value = unescapeData(data).trim();
    return value ? { kind: 'add-mask', value } : undefined;
  }
  if (name === 'debug') return { kind: 'debug', message: unescapeData(data) };
  if (name === 'stop-commands') {
    const token = data.trim();
    return token ? { kind: 'stop-commands', token } : undefined;
  }
  if (name === 'group') return { kind: 'group', title: unescapeData(data).trim() || 'Group' };
  if (name === 'endgroup') return { kind: 'endgroup' };
  if (!LEVELS.has(name)) return undefined;
  const p: Record<string, string> = {};
  for (const pair of props.split(',')) {
    const eq = pair.indexOf('=');
    if (eq > 0) p[pair.slice(0, eq).trim()] = unescapeProperty(pair.slice(eq + 1));
  }
  const cmd: WorkflowCommand = { kind: 'annotation', level: name as AnnotationLevel, message: unescapeData(data) };
  if (p.title) cmd.title = p.title;
  if (p.file) cmd.file = p.file;
  const line = positive(p.line);
  if (line !== undefined) cmd.line = line;
  const endLine = positive(p.endLine);
  if (endLine !== undefined) cmd.endLine = endLine;
  const col = positive(p.col);
  if (col !== undefined) cmd.col = col;
  const endCol = positive(p.endColumn);
  if (endCol !== undefined) cmd.endCol = endCol;
  return cmd;
}

/** Where an annotation points, as people write it: `src/a.ts:12:5` (empty without a file). */
export function annotationLocation(a: { file?: string; line?: number; col?: number }): string {
  if (!a.file) return '';
  return `${a.file}${a.line !== undefined ? `:${a.line}${a.col !== undefined ? `:${a.col}` : ''}` : ''}`;
}
