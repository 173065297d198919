/**
 * Configuration problems are diagnostics: collected, never thrown, each pointing at a file position.
 * Codes are a closed union so that the UI and tests can switch over them.
 */
export type DiagnosticCode =
  | 'YAML_SYNTAX'
  | 'UNKNOWN_KEY'
  | 'WRONG_TYPE'
  | 'MISSING_KEY'
  | 'INVALID_VALUE'
  | 'UNKNOWN_NEEDS'
  | 'NO_ENGINE'
  | 'UNKNOWN_STAGE'
  | 'CYCLE'
  | 'SELF_NEEDS'
  | 'EXPRESSION'
  | 'UNDEFINED_VARIABLE'
  | 'MATRIX_TOO_LARGE'
  | 'MATRIX_LARGE'
  | 'DUPLICATE_JOB'
  /** An included file that does not exist, or an include path that is not allowed. */
  | 'INCLUDE'
  | 'FILE';

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  code: DiagnosticCode;
  severity: Severity;
  message: string;
  file: string;
  /** 1-based; 0 when the problem has no position (e.g. an unreadable file). */
  line: number;
  /** 1-based; 0 when the problem has no position. */
  col: number;
}

/** `FILE:LINE:COL: message` — the one format every surface prints. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file;
  const prefix = d.severity === 'warning' ? 'warning: ' : '';
  return `${where}: ${prefix}${d.message}`;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
