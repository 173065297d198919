import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeGitObjectReaders, readGitObject } from '../../src-main/git/git-object-reader.js';
import { ensureBuilt } from '../helpers/build.js';

const env = { ...process.env, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@example.com' };
const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();

describe('reading objects through one git cat-file --batch per repository', () => {
  let dir: string;
  let first: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-catfile-'));
    git(dir, 'init', '-q', '-b', 'main');
    writeFileSync(join(dir, '.kiln.yml'), 'jobs: {}\n');
    writeFileSync(join(dir, 'big.bin'), Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 256)));
    git(dir, 'add', '.');
    git(dir, 'commit', '-q', '-m', 'one');
    first = git(dir, 'rev-parse', 'HEAD');
  });

  afterEach(() => {
    closeGitObjectReaders();
    rmSync(dir, { recursive: true, force: true });
  });

  it('returns a file at a commit with its type and id', async () => {
    const object = await readGitObject(dir, env, `${first}:.kiln.yml`);
    expect(object?.type).toBe('blob');
    expect(object?.oid).toBe(git(dir, 'rev-parse', `${first}:.kiln.yml`));
    expect(object?.content.toString()).toBe('jobs: {}\n');
  });

  it('ends, for a stopping engine, the readers of its own mirrors and no others', async () => {
    // The engine's mirrors directory holds one repository; the one of the test's `dir` is elsewhere.
    const mirrors = mkdtempSync(join(tmpdir(), 'kiln-catfile-mirrors-'));
    const mine = join(mirrors, 'mine.git');
    try {
      git(mirrors, 'init', '-q', '-b', 'main', mine);
      writeFileSync(join(mine, 'f'), 'x');
      git(mine, 'add', '.');
      git(mine, 'commit', '-q', '-m', 'mine');
      await readGitObject(mine, env, 'HEAD:f');
      await readGitObject(dir, env, `${first}:.kiln.yml`);
      const readerOf = (repo: string): boolean => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').some((l) => l.includes(`-C ${repo} cat-file --batch`));
      expect([readerOf(mine), readerOf(dir)]).toEqual([true, true]);
      closeGitObjectReaders(mirrors);
      const deadline = Date.now() + 5000;
      while (readerOf(mine) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect([readerOf(mine), readerOf(dir)]).toEqual([false, true]);
    } finally {
      rmSync(mirrors, { recursive: true, force: true });
    }
  });

  it('answers a missing path or commit with undefined', async () => {
    expect(await readGitObject(dir, env, `${first}:nope.yml`)).toBeUndefined();
    expect(await readGitObject(dir, env, `${'0'.repeat(40)}^{commit}`)).toBeUndefined();
    expect((await readGitObject(dir, env, `${first}^{commit}`))?.type).toBe('commit');
  });

  it('keeps answers in order across many concurrent reads, binary and larger than a pipe buffer', async () => {
    const specs = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? `${first}:big.bin` : i % 3 === 1 ? `${first}:.kiln.yml` : `${first}:missing`));
    const results = await Promise.all(specs.map((s) => readGitObject(dir, env, s)));
    results.forEach((r, i) => {
      if (i % 3 === 0) expect(r?.content.equals(Buffer.from(Array.from({ length: 300_000 }, (_, j) => j % 256)))).toBe(true);
      else if (i % 3 === 1) expect(r?.content.toString()).toBe('jobs: {}\n');
      else expect(r).toBeUndefined();
    });
  });

  it('sees commits made after the reader started', async () => {
    await readGitObject(dir, env, `${first}:.kiln.yml`);
    writeFileSync(join(dir, '.kiln.yml'), 'jobs: { a: {} }\n');
    git(dir, 'commit', '-qam', 'two');
    const second = git(dir, 'rev-parse', 'HEAD');
    expect((await readGitObject(dir, env, `${second}:.kiln.yml`))?.content.toString()).toBe('jobs: { a: {} }\n');
  });

  it('keeps a process alive while a read is pending, and lets it exit once idle', () => {
    // In a fresh process, `await` on a read must not end the process early (exit code 13), and
    // the idle reader must not hold the process open until its idle timer fires.
    const script = `
      import { readGitObject } from ${JSON.stringify(resolve('dist/src-main/git/git-object-reader.js'))};
      const o = await readGitObject(${JSON.stringify(dir)}, process.env, ${JSON.stringify(`${first}:.kiln.yml`)});
      console.log(o.content.toString().trim());
    `;
    const started = Date.now();
    ensureBuilt();
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out.trim()).toBe('jobs: {}');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('refuses an object name that would break the line protocol', async () => {
    await expect(readGitObject(dir, env, `${first}:a\nb`)).rejects.toThrow(/invalid object name/);
  });
});
