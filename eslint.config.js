// Lint rules that keep the layers of STYLE.md from drifting:
// - shared/ is pure TypeScript: no electron, no node:*, no runtime-specific packages;
// - src-renderer/ imports only shared/ (and browser packages);
// - nothing that runs under plain Node (engine, CLI, tests) imports electron — only main.ts/preload.ts.
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['fs', 'path', 'os', 'child_process', 'crypto', 'http', 'https', 'net', 'stream', 'url', 'util', 'events', 'zlib', 'worker_threads'];
const runtimeOnly = ['better-sqlite3', 'dockerode', 'express', 'smee-client', 'tar'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'dist-renderer/**', 'out/**', 'test-output/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'Only src-main/main.ts and src-main/preload.ts may import electron: everything else runs under plain Node.' }],
      }],
    },
  },
  {
    files: ['shared/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['electron', ...nodeBuiltins, ...runtimeOnly].map((name) => ({ name, message: 'shared/ is pure TypeScript: it runs in Node, Electron and the browser alike.' })),
        patterns: [{ group: ['node:*'], message: 'shared/ must not import node:* modules.' }, { group: ['**/src-main/**', '**/src-renderer/**'], message: 'shared/ depends on nothing else in the project.' }],
      }],
    },
  },
  {
    files: ['src-renderer/**/*.ts', 'src-renderer/**/*.tsx'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['electron', ...nodeBuiltins, ...runtimeOnly].map((name) => ({ name, message: 'src-renderer/ talks to the engine only through the shared/ API client.' })),
        patterns: [{ group: ['node:*'], message: 'src-renderer/ runs in a sandboxed renderer: no node:* modules.' }, { group: ['**/src-main/**'], message: 'src-renderer/ imports only shared/.' }],
      }],
    },
  },
  {
    files: ['src-main/main.ts', 'src-main/preload.ts', 'src-main/electron/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
