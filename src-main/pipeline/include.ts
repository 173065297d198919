/**
 * `include: [ci/common.yml, ci/deploy.yml]`: other files of the same commit whose jobs join the
 * pipeline's. Two phases, because reading is asynchronous (git, the disk) and parsing is not:
 *   1. readIncludes(text, read) follows the include lists (breadth first, each file once) and
 *      returns every included path with its text (undefined: no such file);
 *   2. parsePipeline(text, file, limits, included) — see mergeIncludes below — parses each file
 *      on its own (positions stay in their file), merges the jobs and compiles the result.
 *
 * Rules (GitLab's `include: local`, minus its deep merge): paths are relative to the repository
 * root (a leading `/` is allowed), end in .yml or .yaml and never leave the root; an included file
 * holds `jobs` and may `include` further files; everything else (name, on, env, stages, …) belongs
 * to the main file. A file reached twice (a diamond) is merged once; reaching a file that is still
 * being included is a cycle, reported with the whole chain. A job name defined twice, in any two
 * files, is an error naming both places — jobs never silently override each other. At most
 * MAX_INCLUDED_FILES files. YAML anchors work within a file, not across files.
 */
import type { Diagnostic, DiagnosticCode } from '../../shared/diagnostics.js';
import type { Path, Position, YamlSource } from './yaml-source.js';
import { keyPositionOf, positionOf, readYaml } from './yaml-source.js';

export const MAX_INCLUDED_FILES = 100;
/** The included files of a pipeline: repository path → text, undefined when the commit has no such file. */
export type IncludedFiles = ReadonlyMap<string, string | undefined>;

const rec = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
/**
 * Cheap pre-check before parsing a file only to find its include list: a top-level `include:` key
 * starts a line (block style), or the document is one flow mapping. A matrix's `include:` is
 * indented, so most pipelines are not parsed twice. False positives only cost a parse.
 */
const mayInclude = (text: string): boolean => /^["']?include["']?\s*:/m.test(text) || /^\s*(#.*\n\s*)*\{/.test(text);

/** `/ci/a.yml`, `./ci/a.yml` → `ci/a.yml`; or why the path is not allowed. */
export function normalizeIncludePath(raw: string): { path: string } | { error: string } {
  const path = raw.trim().replace(/^\.?\/+/, '').replace(/\/{2,}/g, '/');
  if (path === '') return { error: 'an include path must name a file' };
  if (/[\\\0]/.test(path) || path.split('/').some((s) => s === '..' || s === '.')) {
    return { error: `include path '${raw}' must stay inside the repository (paths are relative to its root, without '..')` };
  }
  if (!/\.ya?ml$/.test(path)) return { error: `include path '${raw}' must name a .yml or .yaml file` };
  return { path };
}

function includeList(data: unknown): string[] {
  const list = rec(data).include;
  return Array.isArray(list) ? list.filter((p): p is string => typeof p === 'string') : [];
}

/** Reads every file the pipeline text includes, directly or not. `read` rejects only for I/O failures. */
export async function readIncludes(text: string, read: (path: string) => Promise<string | undefined>, mainPath = '.kiln.yml'): Promise<Map<string, string | undefined>> {
  const files = new Map<string, string | undefined>();
  let level = [text];
  const seen = new Set([mainPath]);
  while (level.length > 0 && files.size < MAX_INCLUDED_FILES) {
    const next: string[] = [];
    for (const t of level) {
      if (!mayInclude(t)) continue;
      for (const raw of includeList(readYaml(t, '').source.data)) {
        const n = normalizeIncludePath(raw);
        if ('path' in n && !seen.has(n.path) && seen.size <= MAX_INCLUDED_FILES) {
          seen.add(n.path);
          next.push(n.path);
        }
      }
    }
    const texts = await Promise.all(next.map((p) => read(p)));
    next.forEach((p, i) => files.set(p, texts[i]));
    level = texts.filter((t): t is string => t !== undefined);
  }
  return files;
}

interface Part {
  path: string;
  source: YamlSource;
}

/** How an included file is named in diagnostics: beside the main file (`ci/a.yml` for `.kiln.yml`). */
export function displayName(mainFile: string, path: string): string {
  const slash = mainFile.lastIndexOf('/');
  return slash < 0 ? path : `${mainFile.slice(0, slash + 1)}${path}`;
}

/**
 * The main file's source with the included files' jobs merged into its data; positions of an
 * included job route to its own file (yaml-source.ts's `partOf`). Diagnostics of the includes
 * themselves (missing files, cycles, duplicates, keys that belong to the main file) come with it.
 */
export function mergeIncludes(main: YamlSource, mainPath: string, included: IncludedFiles | undefined): { source: YamlSource; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const emit = (code: DiagnosticCode, file: string, pos: Position, message: string) => diagnostics.push({ code, severity: 'error', message, file, line: pos.line, col: pos.col });
  const parts = new Map<string, Part>();
  const owner = new Map<string, Part>();
  const jobs: Record<string, unknown> = {};
  const mainPart: Part = { path: mainPath, source: main };
  let count = 0;

  const addJobs = (part: Part) => {
    for (const [key, job] of Object.entries(rec(rec(part.source.data).jobs))) {
      const first = owner.get(key);
      if (first) {
        const at = keyPositionOf(first.source, ['jobs', key]);
        emit('DUPLICATE_JOB', part.source.file, keyPositionOf(part.source, ['jobs', key]),
          `job '${key}' is also defined in ${first.source.file}:${at.line}:${at.col}; job names must be unique across included files`);
        continue;
      }
      owner.set(key, part);
      jobs[key] = job;
    }
  };

  const visit = (part: Part, stack: string[]) => {
    addJobs(part);
    const list = rec(part.source.data).include;
    if (!Array.isArray(list)) return;
    list.forEach((raw, i) => {
      if (typeof raw !== 'string') return;
      const where = positionOf(part.source, ['include', i]);
      const n = normalizeIncludePath(raw);
      if ('error' in n) return emit('INCLUDE', part.source.file, where, n.error);
      if (stack.includes(n.path)) {
        const chain = [...stack.slice(stack.indexOf(n.path)), n.path].map((p) => (p === mainPath ? main.file : displayName(main.file, p)));
        return emit('CYCLE', part.source.file, where, `include cycle: ${chain.join(' -> ')}`);
      }
      if (parts.has(n.path)) return; // a diamond: merged once
      if (++count > MAX_INCLUDED_FILES) return emit('INCLUDE', part.source.file, where, `more than ${MAX_INCLUDED_FILES} included files`);
      const text = included?.get(n.path);
      if (text === undefined) return emit('INCLUDE', part.source.file, where, `included file '${n.path}' does not exist`);
      const child = loadPart(n.path, text, displayName(main.file, n.path), diagnostics);
      parts.set(n.path, child);
      if (child.source.data !== null) visit(child, [...stack, n.path]);
    });
  };
  visit(mainPart, [mainPath]);

  if (parts.size === 0 && diagnostics.length === 0) return { source: main, diagnostics };
  const data = { ...rec(main.data), jobs };
  const partOf = (path: Path): YamlSource | undefined => {
    if (path[0] !== 'jobs' || typeof path[1] !== 'string') return undefined;
    const part = owner.get(path[1]);
    return part && part !== mainPart ? part.source : undefined;
  };
  return { source: { ...main, data, partOf }, diagnostics };
}

const INCLUDED_KEYS = ['jobs', 'include'];

/** Parses one included file and checks the keys it may have. */
function loadPart(path: string, text: string, file: string, diagnostics: Diagnostic[]): Part {
  const { source, diagnostics: yaml } = readYaml(text, file);
  diagnostics.push(...yaml);
  const part = { path, source };
  if (yaml.some((d) => d.severity === 'error')) return { path, source: { ...source, data: null } };
  const data = source.data;
  const at = (p: Path) => positionOf(source, p);
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    diagnostics.push({ code: 'WRONG_TYPE', severity: 'error', message: `an included file must be a mapping with a 'jobs' key (and optionally include)`, ...at([]), file });
    return { path, source: { ...source, data: null } };
  }
  for (const key of Object.keys(data)) {
    if (INCLUDED_KEYS.includes(key)) continue;
    const pos = keyPositionOf(source, [key]);
    diagnostics.push({ code: 'UNKNOWN_KEY', severity: 'error', file, line: pos.line, col: pos.col,
      message: `'${key}' cannot appear in an included file (it may hold only jobs and include); set it in the main pipeline file` });
  }
  const jobs = (data as Record<string, unknown>).jobs;
  if (jobs !== undefined && (jobs === null || typeof jobs !== 'object' || Array.isArray(jobs))) {
    diagnostics.push({ code: 'WRONG_TYPE', severity: 'error', message: 'jobs must be a mapping of job names to jobs', ...at(['jobs']), file });
  }
  const list = (data as Record<string, unknown>).include;
  if (list !== undefined && (!Array.isArray(list) || list.some((p) => typeof p !== 'string'))) {
    diagnostics.push({ code: 'WRONG_TYPE', severity: 'error', message: 'include must be a list of file paths', ...at(['include']), file });
  }
  return part;
}
