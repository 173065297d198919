import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * CLI tests run the compiled JavaScript, as users do, and the browser tests serve the built
 * renderer. `npm test` builds first; when test files are run alone (`npx vitest run test/cli`), the
 * global setup builds what is missing before any file starts — two files building into the same
 * dist/ at once would each read the other's half-written output. A file's own call is then a no-op.
 */
export function ensureBuilt(): void {
  if (existsSync('dist/src-main/cli/main.js') && statSync('dist/src-main/cli/main.js').size > 0) return;
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
  } catch (err) {
    // tsc still emits on type errors; only a missing entry point is fatal here (`npm run lint` reports the rest).
    if (!existsSync('dist/src-main/cli/main.js')) throw err;
  }
}

/** The built dashboard the HTTP server serves (vite.renderer.config.ts writes it). */
export const RENDERER_DIR = join(process.cwd(), 'dist-renderer');

export function ensureRendererBuilt(): void {
  if (existsSync(join(RENDERER_DIR, 'index.html'))) return;
  execFileSync('npx', ['vite', 'build', '--config', 'vite.renderer.config.ts', '--logLevel', 'warn'], { stdio: 'inherit' });
}
