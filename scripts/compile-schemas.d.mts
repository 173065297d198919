// Types for scripts/compile-schemas.mjs, so that TypeScript tests can import it.
export interface SchemaEntry {
  source: string;
  exportName: string;
  output: string;
  options: Record<string, unknown>;
}
export const ROOT: string;
export const SCHEMAS: SchemaEntry[];
export function loadSchema(sourcePath: string, exportName: string): Promise<object>;
export function renderValidatorModule(schema: object, entry: SchemaEntry): string;
export function generateAll(): Promise<{ entry: SchemaEntry; text: string; upToDate: boolean }[]>;
