import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { everythingChangedLine } from '../../shared/model/change-set.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { createRepo, dockerLeftovers, git, startEngine, type EngineFixture, type TestRepo } from './engine-fixture.js';

// The real engine, a real git repository (its mirror made by the engine) and real Docker: path
// filters and changed() decide on the files git says a push changed, and included files come
// from the pushed commit.
let f: EngineFixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

const PIPELINE = `name: filtered
on:
  push: { branches: [main], paths: ['src/**', 'ci/**'] }
  manual: true
include: [ci/jobs.yml]
jobs:
  docs:
    image: ${TEST_IMAGE}
    if: changed('docs/**')
    steps: [{ run: echo building the docs }]
`;
const JOBS = `jobs:
  build:
    image: ${TEST_IMAGE}
    if: changed('src/**')
    steps:
      - run: cat src/main.c
`;

function commitFiles(repo: TestRepo, files: Record<string, string>, message: string, branch = 'main'): string {
  if (git(repo.dir, 'symbolic-ref', '--short', 'HEAD') !== branch) git(repo.dir, 'checkout', '-q', '-B', branch);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(repo.dir, path)), { recursive: true });
    writeFileSync(join(repo.dir, path), text);
  }
  git(repo.dir, 'add', '-A');
  git(repo.dir, 'commit', '-q', '-m', message);
  return git(repo.dir, 'rev-parse', 'HEAD');
}

describe('when a pipeline is filtered on src/**', () => {
  it('skips a push that touches only docs/ and runs one that touches src/, with the included job', async () => {
    f = await startEngine();
    const repo = f.repos[0];
    const first = commitFiles(repo, { '.kiln.yml': PIPELINE, 'ci/jobs.yml': JOBS, 'src/main.c': 'int main;\n', 'docs/index.md': '# docs\n' }, 'pipeline');
    const docsOnly = commitFiles(repo, { 'docs/index.md': '# better docs\n' }, 'docs only');
    const skipped = await f.engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', ref: 'refs/heads/main', before: first, sha: docsOnly });
    expect(skipped).toEqual({ runIds: [], reason: `the pipeline's path filter (on:) matches none of the 1 file changed in ${first.slice(0, 12)}..${docsOnly.slice(0, 12)}` });

    const code = commitFiles(repo, { 'src/main.c': 'int main(void) { return 0; }\n' }, 'code');
    const started = await f.engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', ref: 'refs/heads/main', before: docsOnly, sha: code });
    expect(started.runIds).toHaveLength(1);
    const run = await f.waitForRun(started.runIds[0]);
    expect(run.status).toBe('passed');
    expect(run.jobs.map((j) => [j.name, j.status])).toEqual([['docs', 'skipped'], ['build', 'passed']]);
    const build = run.jobs.find((j) => j.name === 'build')!;
    expect((await f.engine.getLog(build.id, 0)).lines.some((l) => l.text === 'int main(void) { return 0; }')).toBe(true);
    expect(dockerLeftovers(f.engine.instanceId)).toEqual([]);
  });

  it('compares a manual run of a branch with its merge base, as a new branch', async () => {
    f = await startEngine();
    const repo = f.repos[0];
    commitFiles(repo, { '.kiln.yml': PIPELINE, 'ci/jobs.yml': JOBS, 'src/main.c': 'int main;\n' }, 'pipeline');
    commitFiles(repo, { 'docs/guide.md': 'guide\n' }, 'docs on a branch', 'docs-fix');
    const { runIds } = await f.engine.triggerRun({ repo: repo.name, branch: 'docs-fix' });
    const run = await f.waitForRun(runIds[0]);
    expect(run.jobs.map((j) => [j.name, j.status])).toEqual([['docs', 'passed'], ['build', 'skipped']]);
  });
});

describe('when a push changes more files than max-changed-files', () => {
  it('runs as if everything changed, and the run records it for its view; a push within the limit records its files', async () => {
    f = await startEngine({ configure: () => ({ maxChangedFiles: 3 }) });
    const repo = f.repos[0];
    const first = commitFiles(repo, { '.kiln.yml': PIPELINE, 'ci/jobs.yml': JOBS, 'src/main.c': 'int main;\n' }, 'pipeline');
    // Five docs files: the filter (src/**, ci/**) matches none, but there are more than 3.
    const many = commitFiles(repo, Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`docs/page${i}.md`, `page ${i}\n`])), 'many docs');
    const started = await f.engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', ref: 'refs/heads/main', before: first, sha: many });
    expect(started.runIds).toHaveLength(1);
    const run = await f.waitForRun(started.runIds[0]);
    expect(run.jobs.map((j) => [j.name, j.status])).toEqual([['docs', 'passed'], ['build', 'passed']]);
    expect(run.changes).toEqual({ kind: 'everything', reason: '5 files changed, more than the limit of 3', overLimit: { files: 5, limit: 3 } });
    expect(everythingChangedLine(run.changes)).toBe('changed files: more than 3 (5 files) — path filters treated everything as changed');

    const few = commitFiles(repo, { 'src/main.c': 'int main(void);\n', 'docs/page1.md': 'page one\n' }, 'two files');
    const again = await f.engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', ref: 'refs/heads/main', before: many, sha: few });
    const second = await f.waitForRun(again.runIds[0]);
    expect(second.changes).toEqual({ kind: 'files', count: 2, range: `${many.slice(0, 12)}..${few.slice(0, 12)}` });
    expect(everythingChangedLine(second.changes)).toBeUndefined();
  });
});

describe('when catch-up finds pushes whose webhooks were lost', () => {
  it('compares with the last head it saw: a docs-only head starts nothing, a src head runs', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kiln-paths-catchup-'));
    try {
      const repo = createRepo(root, 'acme/web');
      commitFiles(repo, { '.kiln.yml': PIPELINE, 'ci/jobs.yml': JOBS, 'src/main.c': 'int main;\n' }, 'pipeline');
      f = await startEngine({ root }); // its first pass records main's head without building it
      await f.engine.catchUpSettled('acme/web');
      commitFiles(repo, { 'docs/a.md': 'a\n' }, 'docs, webhook lost');
      f.engine.requestCatchUp('acme/web');
      await f.engine.catchUpSettled('acme/web');
      expect((await f.engine.listRuns({})).items).toEqual([]);

      commitFiles(repo, { 'docs/b.md': 'b\n' }, 'more docs, webhook lost');
      commitFiles(repo, { 'src/main.c': 'int main(void);\n' }, 'code, webhook lost');
      f.engine.requestCatchUp('acme/web');
      await f.engine.catchUpSettled('acme/web');
      const [run] = (await f.engine.listRuns({})).items;
      const done = await f.waitForRun(run.id);
      // The last seen head (the docs commit) against the new one: docs/b.md and src/main.c changed.
      expect(done.jobs.map((j) => [j.name, j.status])).toEqual([['docs', 'passed'], ['build', 'passed']]);
    } finally {
      await f?.close();
      f = undefined;
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('when an included file has an error', () => {
  it('fails the run with the included file\'s line and column', async () => {
    f = await startEngine();
    const repo = f.repos[0];
    const sha = commitFiles(repo, { '.kiln.yml': PIPELINE, 'ci/jobs.yml': `jobs:\n  build:\n    image: ${TEST_IMAGE}\n    needs: [biuld]\n    steps: [{ run: 'true' }]\n` }, 'broken include');
    const outcome = await f.engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', ref: 'refs/heads/main', sha });
    const run = await f.engine.getRun(outcome.runIds[0]);
    expect(run.status).toBe('failed');
    expect(run.error).toBe("ci/jobs.yml:4:13: job 'build' needs 'biuld', which does not exist");
  });
});
