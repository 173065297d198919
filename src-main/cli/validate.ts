/**
 * `kiln validate [FILE]` — checks a pipeline file (default .kiln.yml).
 * Prints one `FILE:LINE:COL: message` line per problem on stdout (warnings too).
 * Exit 0 valid (warnings allowed), 1 invalid, 2 usage error or unreadable file.
 * Loads only the pipeline engine: no Docker, SQLite or HTTP modules.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseCommandArgs } from './args.js';
import { formatDiagnostic, hasErrors } from '../../shared/diagnostics.js';
import { readIncludes } from '../pipeline/include.js';
import { parsePipeline } from '../pipeline/parse.js';
import type { Pipeline } from '../pipeline/pipeline-model.js';
import type { Diagnostic } from '../../shared/diagnostics.js';

export const DEFAULT_PIPELINE_FILE = '.kiln.yml';

const USAGE = `Usage: kiln validate [FILE]

Checks a pipeline file (default ${DEFAULT_PIPELINE_FILE}) and prints one FILE:LINE:COL: message line per problem.
Exit status: 0 valid (warnings may be printed), 1 invalid, 2 bad usage or unreadable file.`;

/**
 * Reads and parses a pipeline file and the files it includes, from the working tree: include paths
 * are relative to the file's directory (the repository root for .kiln.yml). An unreadable file is
 * reported on stderr and yields undefined; a missing included file is a diagnostic like any other.
 */
export async function readPipelineFile(file: string, command: string): Promise<{ pipeline?: Pipeline; diagnostics: Diagnostic[] } | undefined> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    process.stderr.write(`kiln ${command}: cannot read ${file}: ${reason}\n`);
    return undefined;
  }
  const root = dirname(file);
  const included = await readIncludes(text, (path) => readFile(join(root, path), 'utf8').catch(() => undefined), basename(file));
  return parsePipeline(text, file, undefined, included, basename(file));
}

export async function command(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('validate', USAGE, argv, { help: { type: 'boolean', short: 'h' } });
  if (!parsed.ok) return parsed.exitCode;
  const file = parsed.file ?? DEFAULT_PIPELINE_FILE;
  const result = await readPipelineFile(file, 'validate');
  if (!result) return 2;
  const out = result.diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join('');
  if (hasErrors(result.diagnostics)) {
    process.stdout.write(out);
    return 1;
  }
  const jobs = result.pipeline?.jobs.length ?? 0;
  process.stdout.write(`${out}${file}: ok (${jobs} job${jobs === 1 ? '' : 's'})\n`);
  return 0;
}
