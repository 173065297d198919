import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Three projects: `unit` is pure logic (fast inner loop, `npm run test:unit`); `integration` talks to
// the real Docker engine, real SQLite files, real HTTP servers and real Chromium; `app` runs the
// desktop app's src-main/main.ts itself, with `electron` resolved to the stand-in in
// test/electron-standin/ (Electron's binary cannot be downloaded here) — in that project only.
// `npm test` runs all three.
export default defineConfig({
  test: {
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
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts', 'src-main/**/*.int.test.ts'],
          exclude: ['node_modules/**', 'dist/**', 'test/app/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          pool: 'forks',
        },
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
        },
      },
    ],
  },
});
