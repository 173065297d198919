import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../shared/diagnostics.js';
import type { ChangeSet } from '../../shared/model/change-set.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { parsePipeline } from './parse.js';
import { planPipeline } from './plan.js';
import { decideJob } from './readiness.js';
import { matchesTrigger, needsChangedFiles } from './triggers.js';

const push: TriggerEvent = { kind: 'push', repo: 'acme/web', branch: 'main', sha: 'a'.repeat(40), ref: 'refs/heads/main' };
const files = (...list: string[]): ChangeSet => ({ kind: 'files', files: list, range: 'a..b' });

function pipeline(text: string) {
  const r = parsePipeline(text, '.kiln.yml');
  if (!r.pipeline) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  return r.pipeline;
}

const problems = (text: string) => parsePipeline(text, '.kiln.yml').diagnostics.map(formatDiagnostic);

describe('when the pipeline filters pushes on src/**', () => {
  const p = pipeline('on:\n  push:\n    branches: [main]\n    paths: [\'src/**\']\njobs:\n  build: { image: alpine, steps: [{ run: make }] }\n');
  it('needs the changed files of a push', () => expect(needsChangedFiles(p, push)).toBe(true));
  it('does not need them for a tag', () => expect(needsChangedFiles(p, { ...push, kind: 'tag', tag: 'v1', branch: undefined })).toBe(false));
  it('skips a push that touches only docs/', () => expect(matchesTrigger(p, push, files('docs/index.md'))).toBe(false));
  it('runs a push that touches src/', () => expect(matchesTrigger(p, push, files('docs/index.md', 'src/main.c'))).toBe(true));
  it('still requires the branch filter to match', () => expect(matchesTrigger(p, { ...push, branch: 'dev' }, files('src/main.c'))).toBe(false));
  it('runs when the changes are not known', () => expect(matchesTrigger(p, push)).toBe(true));
});

describe('when pull requests are filtered with paths-ignore', () => {
  const p = pipeline("on:\n  pull_request: { paths-ignore: ['docs/**', '**.md'] }\njobs:\n  build: { image: alpine, steps: [{ run: make }] }\n");
  const pr: TriggerEvent = { ...push, kind: 'pull_request', baseBranch: 'main', branch: 'feature' };
  it('skips a pull request that changes only documentation', () => expect(matchesTrigger(p, pr, files('docs/a.txt', 'README.md'))).toBe(false));
  it('runs a pull request that changes code', () => expect(matchesTrigger(p, pr, files('README.md', 'lib/x.js'))).toBe(true));
});

describe('a job condition on changed files', () => {
  const text = "jobs:\n  docs:\n    image: alpine\n    if: changed('docs/**')\n    steps: [{ run: mkdocs build }]\n  test:\n    image: alpine\n    if: changed('src/**', '!src/**/*.md') && branch == 'main'\n    steps: [{ run: make test }]\n";
  const p = pipeline(text);
  it('makes planning need the changed files', () => expect(needsChangedFiles(p, push)).toBe(true));
  it('skips the jobs whose files did not change, with the condition as the reason', () => {
    const plan = planPipeline(p, push, { changes: files('docs/a.md') }).plan!;
    expect(plan.jobs.map((j) => [j.id, j.skipped])).toEqual([['docs', false], ['test', true]]);
    expect(plan.jobs[1].skipReason).toContain("changed('src/**', '!src/**/*.md')");
  });
  it('runs every job when everything changed', () => {
    const plan = planPipeline(p, push, { changes: { kind: 'everything', reason: 'over the cap' } }).plan!;
    expect(plan.jobs.every((j) => !j.skipped)).toBe(true);
  });
});

describe('changed() beside a status function, decided after the needs finish', () => {
  const p = pipeline("jobs:\n  build: { image: x, steps: [{ run: make }] }\n  report:\n    image: x\n    needs: build\n    if: always() && changed('docs/**')\n    steps: [{ run: report }]\n");
  const ctx = { event: 'push', sha: push.sha, repo: push.repo, matrix: {}, env: {} };
  it('carries the planned result of changed() into the condition the scheduler reads', () => {
    const report = planPipeline(p, push, { changes: files('src/a.c') }).plan!.jobs[1];
    expect(report.if).toBe("(always() && false)");
    expect(decideJob(report, ['failed'], ctx)).toBe('skip');
  });
  it('runs after a failed need when the docs changed', () => {
    const report = planPipeline(p, push, { changes: files('docs/a.md') }).plan!.jobs[1];
    expect(decideJob(report, ['failed'], ctx)).toBe('run');
  });
  it('keeps a condition without changed() as written', () => {
    const q = pipeline("jobs:\n  a:\n    image: x\n    if: always() && branch == 'main'\n    steps: [{ run: r }]\n");
    expect(planPipeline(q, push, { changes: files('x') }).plan!.jobs[0].if).toBe("always() && branch == 'main'");
  });
});

describe('validation of path filters and changed()', () => {
  it('rejects paths and paths-ignore on one event, at the second key', () => {
    expect(problems("on:\n  push:\n    paths: [src/**]\n    paths-ignore: [docs/**]\njobs:\n  a: { image: x, steps: [{ run: r }] }\n")).toEqual([
      ".kiln.yml:4:5: on.push: use paths or paths-ignore, not both (as in GitHub Actions); to leave files out of paths, list them with a leading '!'",
    ]);
  });
  it('points at an invalid pattern in a filter', () => {
    expect(problems("on:\n  pull_request:\n    paths: ['src/**', 'lib/[]']\njobs:\n  a: { image: x, steps: [{ run: r }] }\n")).toEqual([
      ".kiln.yml:3:23: on.pull_request.paths[1]: 'lib/[]' is not a valid path pattern: empty brackets '[]' (character 6)",
    ]);
  });
  it('points at an invalid pattern inside changed()', () => {
    expect(problems("jobs:\n  a:\n    image: x\n    if: changed('ok/**', 'bad[')\n    steps: [{ run: r }]\n")).toEqual([
      ".kiln.yml:4:26: job 'a': changed(): 'bad[' is not a valid path pattern: missing ']' after '[' (character 4)",
    ]);
  });
  it('rejects changed() in a step condition', () => {
    expect(problems("jobs:\n  a:\n    image: x\n    steps:\n      - run: r\n        if: always() && changed('docs/**')\n")).toEqual([
      ".kiln.yml:6:25: job 'a' steps[0]: changed() works only in a job's if: (the changed files are decided when the run is planned); move the condition to the job",
    ]);
  });
  it('rejects changed() without a pattern', () => {
    expect(problems('jobs:\n  a:\n    image: x\n    if: changed()\n    steps: [{ run: r }]\n')[0]).toContain('changed() takes at least 1 argument');
  });
  it('names paths and paths-ignore in the did-you-mean of a misspelt key', () => {
    expect(problems('on:\n  push: { path: [src] }\njobs:\n  a: { image: x, steps: [{ run: r }] }\n')[0]).toContain("did you mean 'paths'");
  });
});
