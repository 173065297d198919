/**
 * The engine as compiled JavaScript, for tests that run it in a child process they can SIGKILL.
 *
 * `npm test` builds dist/ first, so a test normally takes that build: compiling the whole main side
 * again costs each such file 15–30 s. dist/ is used only when it is at least as new as every source
 * file under shared/ and src-main/; when it is missing or older (a file run alone after an edit),
 * the sources are compiled into a directory of this process's own, as before, so a stale build is
 * never what a test checks and parallel test files never write into the same directory.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ENGINE = join('src-main', 'engine', 'engine.js');

export interface CompiledEngine {
  /** The output root: `<dir>/src-main/engine/engine.js` is the engine. */
  dir: string;
  /** Removes a private build; leaves dist/ alone. */
  dispose(): void;
}

/** Newest modification time (ms) of the .ts files under `dir`, tests excluded. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** True when dist/ holds a build of the current sources. */
export function distIsFresh(root = process.cwd()): boolean {
  const engine = join(root, 'dist', ENGINE);
  if (!existsSync(engine)) return false;
  const sources = Math.max(newestSource(join(root, 'shared')), newestSource(join(root, 'src-main')));
  return statSync(engine).mtimeMs >= sources;
}

/** dist/ when it is fresh, else a private compile into test-output/<name>-<pid>. */
export function compiledEngine(name: string): CompiledEngine {
  if (distIsFresh()) return { dir: resolve('dist'), dispose: () => undefined };
  const dir = resolve('test-output', `${name}-${process.pid}`);
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json', '--outDir', dir], { stdio: 'ignore' });
  } catch {
    // tsc emits despite type errors elsewhere; only a missing engine is fatal
  }
  if (!existsSync(join(dir, ENGINE))) throw new Error('could not compile the engine for the child process');
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
