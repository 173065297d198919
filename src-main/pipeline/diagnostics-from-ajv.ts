/**
 * Turns ajv errors into positioned diagnostics: each error's instancePath is walked in the YAML
 * document to the offending node, and the message names the field and, where possible, the fix.
 */
import type { ErrorObject } from 'ajv';
import type { Diagnostic, DiagnosticCode } from '../../shared/diagnostics.js';
import { suggest } from './expression-parser.js';
import { fieldName, keyPositionOf, positionOf } from './yaml-source.js';
import type { Path, Position, YamlSource } from './yaml-source.js';

/** `/jobs/test/steps/0` → ['jobs', 'test', 'steps', 0] (numbers only inside arrays). */
export function pointerToPath(pointer: string, data: unknown): Path {
  if (pointer === '') return [];
  const path: Path = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      const i = Number(seg);
      path.push(i);
      cur = cur[i];
    } else {
      path.push(seg);
      cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return path;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'boolean') return `the boolean ${value}`;
  return `'${String(value)}'`;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  boolean: 'a boolean (true or false)',
  object: 'a mapping',
  array: 'a list',
  null: 'empty',
};

function expected(types: unknown): string {
  const list = (Array.isArray(types) ? types : [types]).map((t) => TYPE_WORDS[String(t)] ?? String(t));
  return list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}` : list[0];
}

function label(path: Path): string {
  // Inside a job, name the job explicitly: "job 'test': steps[0].run …" reads better than a path.
  if (path[0] === 'jobs' && typeof path[1] === 'string' && path.length === 2) return `job '${path[1]}'`;
  if (path[0] === 'jobs' && typeof path[1] === 'string' && path.length > 2) return `job '${path[1]}': ${fieldName(path.slice(2))}`;
  return fieldName(path);
}

function propertyNames(schema: unknown): string[] {
  const props = (schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props ? Object.keys(props) : [];
}

export function diagnosticsFromAjv(errors: readonly ErrorObject[], source: YamlSource): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  const push = (code: DiagnosticCode, pos: Position, message: string) => {
    const id = `${pos.file ?? ''}:${pos.line}:${pos.col}:${message}`;
    if (seen.has(id)) return;
    seen.add(id);
    out.push({ code, severity: 'error', message, file: pos.file ?? source.file, line: pos.line, col: pos.col });
  };
  // A misspelt required key (`imgae`) is one mistake: "did you mean 'image'" says it all, so the
  // "missing required key 'image'" it causes at the same place is left out.
  const misspelt = new Set<string>();
  for (const e of errors) {
    if (e.keyword !== 'additionalProperties') continue;
    const hint = /did you mean '(.*)'\?/.exec(suggest(String((e.params as Record<string, unknown>).additionalProperty), propertyNames(e.parentSchema)));
    if (hint) misspelt.add(`${e.instancePath}\0${hint[1]}`);
  }
  // A propertyNames failure is reported once by its `pattern` sub-error; skip the summary error.
  for (const e of errors) {
    const path = pointerToPath(e.instancePath, source.data);
    const params = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = String(params.additionalProperty);
        const keyPath = [...path, key];
        const where = path.length ? ` in ${label(path)}` : ' at the top level';
        const hint = suggest(key, propertyNames(e.parentSchema));
        const known = propertyNames(e.parentSchema);
        const list = hint ? '' : known.length ? ` (known keys: ${known.join(', ')})` : '';
        push('UNKNOWN_KEY', keyPositionOf(source, keyPath), `unknown key '${key}'${where}${hint}${list}`);
        break;
      }
      case 'required': {
        const missing = String(params.missingProperty);
        if (misspelt.has(`${e.instancePath}\0${missing}`)) break;
        const what = path.length === 0 ? 'the pipeline' : path[0] === 'jobs' && path.length === 2 ? `job '${path[1]}'` : label(path);
        push('MISSING_KEY', keyPositionOf(source, path), `${what} is missing required key '${missing}'`);
        break;
      }
      case 'type':
        if (path.length === 1 && path[0] === 'on') {
          push('WRONG_TYPE', positionOf(source, path), `on must be a mapping, e.g. on: { push: { branches: [main] }, pull_request: {}, manual: true }, got ${typeOf(e.data)}`);
          break;
        }
        push('WRONG_TYPE', positionOf(source, path), `${label(path)} must be ${expected(params.type)}, got ${typeOf(e.data)}`);
        break;
      case 'enum': {
        const allowed = (params.allowedValues as unknown[]).map(String);
        const hint = typeof e.data === 'string' ? suggest(e.data, allowed) : '';
        push('INVALID_VALUE', positionOf(source, path), `${label(path)} must be one of ${allowed.join(', ')}, got ${typeOf(e.data)}${hint}`);
        break;
      }
      case 'propertyNames':
        break;
      case 'pattern': {
        if (e.propertyName !== undefined) {
          const parent = path;
          const kind = parent[parent.length - 1] === 'services' ? 'service name' : 'job name';
          const rule = kind === 'service name' ? 'lowercase letters, digits and -' : 'letters, digits, _ and -, starting with a letter or _';
          push('INVALID_VALUE', keyPositionOf(source, [...parent, e.propertyName]), `invalid ${kind} '${e.propertyName}': use ${rule}`);
        } else {
          const what = path.includes('secrets') ? 'a secret name' : path[0] === 'stages' ? 'a stage name' : 'a name';
          push('INVALID_VALUE', positionOf(source, path), `${label(path)}: ${typeOf(e.data)} is not valid as ${what} (letters, digits and _)`);
        }
        break;
      }
      case 'minItems':
        push('INVALID_VALUE', positionOf(source, path), `${label(path)} must not be empty`);
        break;
      case 'minProperties':
        push('INVALID_VALUE', positionOf(source, path), `${label(path)} must define at least one entry`);
        break;
      default:
        push('INVALID_VALUE', positionOf(source, path), `${label(path)} ${e.message ?? 'is invalid'}`);
    }
  }
  return out;
}
