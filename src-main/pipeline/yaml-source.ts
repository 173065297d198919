/**
 * Reading `.kiln.yml` text into plain data while keeping every node's position.
 *
 * Type coercion is neutralised here, once: the YAML 1.2 core schema makes `on`, `yes`, `no`, `off`
 * plain strings, and Kiln has no numeric fields, so every numeric-looking scalar keeps its exact
 * source text as a string (`3.10` → "3.10", `20` → "20", `0x1F` → "0x1F"). Only `true`/`false`
 * are booleans and `null`/`~`/empty are null.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node, ParsedNode, ScalarTag, Tags } from 'yaml';
import type { Diagnostic } from '../../shared/diagnostics.js';

export type PathSegment = string | number;
export type Path = PathSegment[];
export interface Position {
  line: number;
  col: number;
  /** Set when the position is in another file than the source asked (an included file). */
  file?: string;
}

const NUMBER_TAGS = new Set(['tag:yaml.org,2002:int', 'tag:yaml.org,2002:float']);

function keepNumbersAsText(tags: Tags): Tags {
  return tags.map((t) => (typeof t === 'object' && NUMBER_TAGS.has(t.tag) ? ({ ...t, resolve: (source: string) => source } as ScalarTag) : t));
}

export interface YamlSource {
  file: string;
  text: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** The document as plain data (null for an empty document). */
  data: unknown;
  /**
   * With includes (include.ts): the source of the file a path's value comes from, when it is not
   * this one — `['jobs', 'deploy', …]` of a job defined in an included file. Positions follow it.
   */
  partOf?: (path: Path) => YamlSource | undefined;
}

/** Parses YAML; syntax errors become YAML_SYNTAX (or DUPLICATE_JOB) diagnostics. Never throws. */
export function readYaml(text: string, file: string): { source: YamlSource; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    schema: 'core',
    merge: true,
    prettyErrors: false,
    customTags: keepNumbersAsText,
  });
  const diagnostics: Diagnostic[] = [];
  const report = (err: (typeof doc.errors)[number], severity: 'error' | 'warning') => {
    const pos = lineCounter.linePos(err.pos[0]);
    const underJobs = err.code === 'DUPLICATE_KEY' && isDirectChildOfJobs(doc, err.pos[0]);
    diagnostics.push({
      code: underJobs ? 'DUPLICATE_JOB' : 'YAML_SYNTAX',
      severity,
      message: underJobs ? 'duplicate job name: job keys under jobs must be unique' : yamlMessage(err.message),
      file,
      line: pos.line,
      col: pos.col,
    });
  };
  for (const err of doc.errors) report(err, 'error');
  for (const warning of doc.warnings) report(warning, 'warning');
  let data: unknown = null;
  if (doc.errors.length === 0) {
    try {
      data = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      // Excessive alias expansion ("billion laughs") and similar: report, don't crash.
      diagnostics.push({ code: 'YAML_SYNTAX', severity: 'error', message: `cannot read YAML: ${(e as Error).message}`, file, line: 1, col: 1 });
    }
  }
  return { source: { file, text, doc, lineCounter, data }, diagnostics };
}

function yamlMessage(message: string): string {
  // yaml appends ` at line L, column C:` plus a code excerpt; we print our own position.
  return `YAML syntax error: ${message.replace(/ at line \d+, column \d+[\s\S]*$/, '').trim()}`;
}

function isDirectChildOfJobs(doc: Document.Parsed, offset: number): boolean {
  const jobs = doc.contents && isMap(doc.contents) ? doc.contents.get('jobs', true) : undefined;
  if (!jobs || !isMap(jobs)) return false;
  return jobs.items.some((p) => isScalar(p.key) && p.key.range?.[0] === offset);
}

function deref(doc: Document.Parsed, node: unknown): unknown {
  let n = node;
  for (let i = 0; i < 10 && isAlias(n); i++) n = n.resolve(doc);
  return n;
}

interface Located {
  key?: Node;
  value?: Node;
}

function findInMap(doc: Document.Parsed, map: unknown, key: string, depth = 0): Located | undefined {
  if (!isMap(map) || depth > 10) return undefined;
  for (const pair of map.items) {
    if (!isPair(pair)) continue;
    const k = pair.key;
    if (isScalar(k) && typeof k.value !== 'symbol' && String(k.value) === key) return { key: k as Node, value: pair.value as Node | undefined };
  }
  // Keys brought in by a `<<` merge: point at the merged map's node.
  for (const pair of map.items) {
    // yaml represents the merge key's value as a Symbol; its source text is '<<'.
    if (isScalar(pair.key) && (typeof pair.key.value === 'symbol' || pair.key.value === '<<')) {
      const targets = isSeq(pair.value) ? pair.value.items : [pair.value];
      for (const t of targets) {
        const hit = findInMap(doc, deref(doc, t), key, depth + 1);
        if (hit) return hit;
      }
    }
  }
  return undefined;
}

/** The deepest node along `path` (value node, and the key node when the last step was a map key). */
export function locate(source: YamlSource, path: Path): { node?: Node; key?: Node; exact: boolean } {
  let current: unknown = source.doc.contents;
  let key: Node | undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const container = deref(source.doc, current);
    let next: Located | undefined;
    if (isSeq(container) && typeof seg === 'number') {
      const item = container.items[seg];
      next = item === undefined ? undefined : { value: item as Node };
    } else if (isMap(container)) {
      next = findInMap(source.doc, container, String(seg));
    }
    if (!next) return { node: (current as Node | undefined) ?? undefined, key, exact: false };
    key = next.key;
    current = next.value ?? next.key;
  }
  return { node: current as Node | undefined, key, exact: true };
}

function positionOfNode(source: YamlSource, node: Node | undefined): Position {
  const start = (node as ParsedNode | undefined)?.range?.[0];
  if (start === undefined) return { line: 1, col: 1 };
  return source.lineCounter.linePos(start);
}

/** Position of the value at `path` (or of its closest existing ancestor). */
export function positionOf(source: YamlSource, path: Path): Position {
  const part = source.partOf?.(path);
  if (part) return { ...positionOf(part, path), file: part.file };
  const { node, key } = locate(source, path);
  return positionOfNode(source, node ?? key);
}

/** Position of the key of the pair at `path` (falls back to the value, then the ancestor). */
export function keyPositionOf(source: YamlSource, path: Path): Position {
  const part = source.partOf?.(path);
  if (part) return { ...keyPositionOf(part, path), file: part.file };
  const { node, key, exact } = locate(source, path);
  return positionOfNode(source, exact && key ? key : node);
}

/**
 * Position of column `col` (1-based) of a single-line scalar's value at `path`: how an error inside
 * an `if:` expression points at the offending character. Multi-line scalars give the scalar's start.
 */
export function positionInScalar(source: YamlSource, path: Path, col: number): Position {
  const part = source.partOf?.(path);
  if (part) return { ...positionInScalar(part, path, col), file: part.file };
  const { node } = locate(source, path);
  const base = positionOfNode(source, node);
  if (!node || !isScalar(node)) return base;
  const range = (node as ParsedNode).range;
  const text = source.text.slice(range[0], range[1]);
  if (text.includes('\n') || (node.type !== 'PLAIN' && node.type !== 'QUOTE_SINGLE' && node.type !== 'QUOTE_DOUBLE')) return base;
  const quoteShift = node.type === 'PLAIN' ? 0 : 1;
  // Escapes inside quotes would shift characters; only adjust when the text is the value verbatim.
  const verbatim = text.slice(quoteShift, text.length - quoteShift) === String(node.value);
  return verbatim ? { line: base.line, col: base.col + quoteShift + col - 1 } : base;
}

/** `jobs.test.steps[0].run` — how messages name a field. */
export function fieldName(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out || '(root)';
}
