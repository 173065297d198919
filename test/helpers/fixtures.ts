import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The fixtures written outside this project live in `shared/fixtures` beside the repository
 * (`../shared/fixtures` from its root), wherever the repository is cloned.
 */
const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const FIXTURES = join(REPO_ROOT, '..', 'shared', 'fixtures');

if (!existsSync(FIXTURES)) {
  throw new Error(`the shared fixtures are missing: expected them at ${FIXTURES} (../shared/fixtures beside the repository)`);
}

export function fixturePath(name: string): string {
  return join(FIXTURES, name);
}
