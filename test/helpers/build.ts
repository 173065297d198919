import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

/**
 * CLI tests run the compiled JavaScript, as users do. `npm test` builds first; when a test file is
 * run alone (`npx vitest run test/cli`), compile the main side if dist/ is missing.
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
