/**
 * The `$KILN_ENV` file a step appends to, parsed on the host after the step (GitHub's GITHUB_ENV
 * format):
 *   KEY=value            the value is the rest of the line, taken literally (no quotes, no expansion)
 *   KEY<<DELIM           a multi-line value: the following lines up to a line equal to DELIM
 *   ...
 *   DELIM
 * `$KILN_OUTPUT` (GitHub's GITHUB_OUTPUT) has the same two forms: parseOutputFile.
 * Blank lines are ignored. Later assignments win. Problems are reported, never thrown: the
 * executor turns them into warning lines.
 */
import { ENV_NAME } from '../../shared/model/env-name.js';


/** Variables a step may not override through $KILN_ENV: they locate Kiln's own files. */
export const PROTECTED_VARIABLES: ReadonlySet<string> = new Set(['KILN_ENV', 'KILN_OUTPUT', 'KILN_WORKSPACE', 'KILN_RUN_ID', 'KILN_JOB']);

/** Output names, as `outputs:` keys and `steps.<id>.outputs.<name>` spell them. */
const OUTPUT_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** A step's `$KILN_OUTPUT` file: the same two forms (GitHub's GITHUB_OUTPUT), names as in `outputs:`. */
export function parseOutputFile(text: string): EnvFileResult {
  return parseLines(text, (name) => (OUTPUT_NAME.test(name) ? undefined : `'${name}' is not a valid output name`));
}

export interface EnvFileResult {
  vars: Record<string, string>;
  problems: string[];
}

export function parseEnvFile(text: string): EnvFileResult {
  return parseLines(text, (name) => {
    if (!ENV_NAME.test(name)) return `'${name}' is not a valid variable name`;
    if (PROTECTED_VARIABLES.has(name)) return `${name} is set by Kiln and cannot be changed`;
    return undefined;
  });
}

/** `refuse(name)` says why a name is not accepted, or undefined to accept it. */
function parseLines(text: string, refuse: (name: string) => string | undefined): EnvFileResult {
  const vars: Record<string, string> = {};
  const problems: string[] = [];
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  // A trailing newline leaves one empty element: not a line.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const set = (name: string, value: string, lineNo: number): void => {
    const why = refuse(name);
    if (why) problems.push(`line ${lineNo}: ${why}`);
    else vars[name] = value;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const lineNo = i + 1;
    if (line.trim() === '') continue;
    const heredoc = line.indexOf('<<');
    const equals = line.indexOf('=');
    if (heredoc > 0 && (equals === -1 || heredoc < equals)) {
      const name = line.slice(0, heredoc);
      const delimiter = line.slice(heredoc + 2);
      if (delimiter === '') {
        problems.push(`line ${lineNo}: '${name}<<' needs a delimiter`);
        continue;
      }
      const end = lines.indexOf(delimiter, i + 1);
      if (end === -1) {
        problems.push(`line ${lineNo}: no closing '${delimiter}' for ${name}`);
        break;
      }
      set(name, lines.slice(i + 1, end).join('\n'), lineNo);
      i = end;
    } else if (equals > 0) {
      set(line.slice(0, equals), line.slice(equals + 1), lineNo);
    } else {
      problems.push(`line ${lineNo}: expected KEY=value or KEY<<DELIMITER`);
    }
  }
  return { vars, problems };
}
