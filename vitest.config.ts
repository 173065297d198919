import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Three kinds of tests: `unit` is pure logic (fast inner loop, `npm run test:unit`); `integration`
// talks to the real Docker engine, real SQLite files, real HTTP servers and real Chromium; `app` runs
// the desktop app's src-main/main.ts itself, with `electron` resolved to the stand-in in
// test/electron-standin/ (Electron's binary cannot be downloaded here) — in that project only.
// `npm test` runs all of them.
//
// Why two groups: the integration files mostly wait on Docker, git, HTTP and Chromium, so two files
// at a time cut the wall time even on 2 cores (a sample of Docker-bound files took half as long,
// one of Chromium files a fifth less). Every file keeps its own temp dirs, port-0
// servers, pid-named namespaces and a kiln.instance of its own (a reaper removes another instance's
// containers only after 24 h), so two files cannot disturb each other — except the ones listed in
// SERIAL, which run afterwards, one at a time, with nothing beside them (group 1, `integration-serial`),
// together with `app`. `--maxWorkers=1` (or `--no-file-parallelism`) runs group 0 one file at a time
// too. `--project integration` is group 0's files only; `--project 'integration*'` is all of them.
const SERIAL = [
  // Timing bounds that 2x load would break: a push polled and built within 1.6 s, a stop within 3 s.
  'test/engine/catch-up.test.ts',
  // A page of a 1,000,000-line log read in under 50 ms.
  'test/storage/log-store.test.ts',
];

const INTEGRATION = {
  include: ['test/**/*.test.ts', 'src-main/**/*.int.test.ts'],
  exclude: ['node_modules/**', 'dist/**', 'test/app/**'],
  globalSetup: ['test/global-setup.ts'],
  testTimeout: 120_000,
  hookTimeout: 120_000,
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['shared/**/*.test.ts', 'src-main/**/*.test.ts', 'src-renderer/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', 'node_modules/**', 'dist/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: { ...INTEGRATION, name: 'integration', exclude: [...INTEGRATION.exclude, ...SERIAL] },
      },
      {
        test: { ...INTEGRATION, name: 'integration-serial', include: SERIAL, exclude: [], maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
      {
        resolve: {
          alias: [{ find: /^electron$/, replacement: fileURLToPath(new URL('./test/electron-standin/electron.ts', import.meta.url)) }],
        },
        test: {
          name: 'app',
          include: ['test/app/**/*.test.ts'],
          exclude: ['node_modules/**', 'dist/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          pool: 'forks',
          // Rebuilds dist/src-main/preload.cjs and runs the whole app: with the serial files, alone.
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
