// Lint rules that keep the layers of STYLE.md from drifting:
// - shared/ is pure TypeScript: no electron, no node:*, no runtime-specific packages;
// - src-renderer/ imports only shared/ (and browser packages);
// - nothing that runs under plain Node (engine, CLI, tests) imports electron — only main.ts/preload.ts;
// - inside src-main/, each folder imports only the folders below it (ZONES): contracts in core/,
//   nothing imports "up" (storage or queue never reach into the executor; only the engine wires).
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['fs', 'path', 'os', 'child_process', 'crypto', 'http', 'https', 'net', 'stream', 'url', 'util', 'events', 'zlib', 'worker_threads'];
const runtimeOnly = ['better-sqlite3', 'dockerode', 'express', 'smee-client', 'tar'];

// src-main/ folder → the src-main/ folders it may import (shared/ is open to all). Read it as the
// build's data flow: contracts (core) and pure stages (pipeline, git) at the bottom, the engine
// that wires everything near the top, and the faces (http, cli, electron) on top.
const ZONES = {
  core: [],
  pipeline: ['core'],
  git: ['core'],
  storage: ['core', 'pipeline'],
  settings: ['core', 'pipeline', 'storage'],
  queue: ['core', 'pipeline', 'storage'],
  executor: ['core', 'pipeline', 'git'],
  trigger: ['core', 'settings'],
  forge: ['core', 'storage', 'settings'],
  engine: ['core', 'pipeline', 'git', 'storage', 'settings', 'queue', 'executor', 'trigger', 'forge'],
  http: ['core', 'storage', 'trigger'],
  cli: ['core', 'pipeline', 'git', 'storage', 'settings', 'queue', 'executor', 'trigger', 'forge', 'engine', 'http'],
};
const electronOnlyInMain = { name: 'electron', message: 'Only src-main/main.ts and src-main/preload.ts may import electron: everything else runs under plain Node.' };

function zoneConfig(zone, allowed) {
  const forbidden = [...Object.keys(ZONES), 'electron'].filter((z) => z !== zone && !allowed.includes(z));
  return {
    files: [`src-main/${zone}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [electronOnlyInMain],
        patterns: [{
          group: forbidden.flatMap((z) => [`../${z}/*`, `../${z}/**`, `../../src-main/${z}/*`]).concat(['../main.js', '../preload.js']),
          message: `src-main/${zone}/ may import only ${allowed.length ? allowed.map((z) => `${z}/`).join(', ') : 'shared/'}${allowed.length ? ' and shared/' : ''} (the zones in eslint.config.js).`,
        }],
      }],
    },
  };
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'dist-renderer/**', 'out/**', 'test-output/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': ['error', { paths: [electronOnlyInMain] }],
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
  ...Object.entries(ZONES).map(([zone, allowed]) => zoneConfig(zone, allowed)),
  {
    files: ['src-main/main.ts', 'src-main/preload.ts', 'src-main/electron/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
