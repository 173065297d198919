import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../shared/diagnostics.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { readIncludes } from './include.js';
import { parsePipeline } from './parse.js';
import { planPipeline } from './plan.js';

const push: TriggerEvent = { kind: 'push', repo: 'acme/web', branch: 'main', sha: 'a'.repeat(40), ref: 'refs/heads/main' };

/** Parses `.kiln.yml` of an in-memory repository, its includes read the way the engine reads them. */
async function parseRepo(files: Record<string, string>) {
  const reads: string[] = [];
  const included = await readIncludes(files['.kiln.yml'], async (path) => {
    reads.push(path);
    return files[path];
  });
  return { ...parsePipeline(files['.kiln.yml'], '.kiln.yml', undefined, included), reads };
}
const lines = async (files: Record<string, string>) => (await parseRepo(files)).diagnostics.map(formatDiagnostic);
const job = (name: string, extra = '') => `  ${name}:\n    image: alpine\n${extra}    steps: [{ run: echo ${name} }]\n`;

describe('merging included files (the cases of GitLab\'s include: local)', () => {
  it('adds the jobs of a file named from the repository root with a leading slash, after the main file\'s', async () => {
    const r = await parseRepo({
      '.kiln.yml': `include: ['/templates/after-script.yml']\njobs:\n${job('build')}`,
      'templates/after-script.yml': `jobs:\n${job('cleanup')}`,
    });
    expect(r.diagnostics).toEqual([]);
    expect(r.pipeline?.jobs.map((j) => j.key)).toEqual(['build', 'cleanup']);
  });

  it('follows nested includes, and jobs need jobs and stages of other files', async () => {
    const r = await parseRepo({
      '.kiln.yml': "stages: [build, test, deploy]\ninclude: [ci/test.yml]\njobs:\n" + job('compile', '    stage: build\n'),
      'ci/test.yml': "include: [ci/deploy.yml]\njobs:\n" + job('unit', '    stage: test\n'),
      'ci/deploy.yml': 'jobs:\n' + job('ship', '    stage: deploy\n    needs: [unit, compile]\n'),
    });
    expect(r.diagnostics).toEqual([]);
    expect(r.pipeline?.jobs.map((j) => [j.key, j.dependsOn])).toEqual([['compile', []], ['unit', ['compile']], ['ship', ['unit', 'compile']]]);
  });

  it('merges a file included twice (a diamond) once, without a duplicate-job error', async () => {
    const r = await parseRepo({
      '.kiln.yml': 'include: [ci/a.yml, ci/b.yml]\njobs:\n' + job('main'),
      'ci/a.yml': 'include: [ci/common.yml]\njobs:\n' + job('a'),
      'ci/b.yml': 'include: [ci/common.yml]\njobs:\n' + job('b'),
      'ci/common.yml': 'jobs:\n' + job('lint'),
    });
    expect(r.diagnostics).toEqual([]);
    expect(r.pipeline?.jobs.map((j) => j.key)).toEqual(['main', 'a', 'lint', 'b']);
    expect(r.reads).toEqual(['ci/a.yml', 'ci/b.yml', 'ci/common.yml']);
  });

  it('lets a main file without jobs take them all from includes', async () => {
    const r = await parseRepo({ '.kiln.yml': 'name: split\ninclude: [ci/jobs.yml]\n', 'ci/jobs.yml': 'jobs:\n' + job('only') });
    expect(r.pipeline?.jobs.map((j) => j.key)).toEqual(['only']);
  });
});

describe('problems in included files are reported where they are', () => {
  it('names both files when two define the same job', async () => {
    expect(await lines({
      '.kiln.yml': 'include: [ci/a.yml, ci/b.yml]\njobs:\n' + job('build'),
      'ci/a.yml': 'jobs:\n' + job('test'),
      'ci/b.yml': 'jobs:\n' + job('lint') + job('test'),
    })).toEqual(["ci/b.yml:5:3: job 'test' is also defined in ci/a.yml:2:3; job names must be unique across included files"]);
  });

  it('names the main file when an included file redefines one of its jobs', async () => {
    expect(await lines({ '.kiln.yml': 'include: [ci/a.yml]\njobs:\n' + job('build'), 'ci/a.yml': 'jobs:\n' + job('build') })).toEqual([
      "ci/a.yml:2:3: job 'build' is also defined in .kiln.yml:3:3; job names must be unique across included files",
    ]);
  });

  it('points schema, reference and expression errors at the included file\'s line and column', async () => {
    expect(await lines({
      '.kiln.yml': 'include: [ci/deploy.yml]\njobs:\n' + job('build'),
      'ci/deploy.yml': "jobs:\n  deploy:\n    image: alpine\n    needs: [biuld]\n    if: branch == 'main' &&\n    stepz: []\n",
    })).toEqual([
      "ci/deploy.yml:4:13: job 'deploy' needs 'biuld', which does not exist (did you mean 'build'?)",
      "ci/deploy.yml:5:28: job 'deploy': invalid if expression: expected a value, found end of expression (column 20)",
      "ci/deploy.yml:6:5: unknown key 'stepz' in job 'deploy' (did you mean 'steps'?)",
    ].sort());
  });

  it('reports plan-time problems in the included file', async () => {
    const r = await parseRepo({ '.kiln.yml': 'include: [ci/a.yml]\n', 'ci/a.yml': 'jobs:\n  a:\n    image: "${IMAGE:?set IMAGE}"\n    steps: [{ run: x }]\n' });
    expect(planPipeline(r.pipeline!, push).diagnostics.map(formatDiagnostic)).toEqual(['ci/a.yml:3:12: jobs.a.image: ${IMAGE} is required: set IMAGE']);
  });

  it('names the whole cycle of includes', async () => {
    expect(await lines({
      '.kiln.yml': 'include: [ci/a.yml]\njobs:\n' + job('x'),
      'ci/a.yml': 'include: [ci/b.yml]\njobs:\n' + job('a'),
      'ci/b.yml': 'include: [ci/a.yml]\njobs:\n' + job('b'),
    })).toEqual(['ci/b.yml:1:11: include cycle: ci/a.yml -> ci/b.yml -> ci/a.yml']);
  });

  it('names a file that includes the main pipeline file as a cycle', async () => {
    expect(await lines({ '.kiln.yml': 'include: [ci/a.yml]\n', 'ci/a.yml': "include: ['.kiln.yml']\njobs:\n" + job('a') })).toEqual([
      'ci/a.yml:1:11: include cycle: .kiln.yml -> ci/a.yml -> .kiln.yml',
    ]);
  });

  it('points at the include entry of a missing file', async () => {
    expect(await lines({ '.kiln.yml': 'jobs:\n' + job('a') + 'include:\n  - ci/common.yml\n  - ci/missing.yml\n', 'ci/common.yml': 'jobs:\n' + job('c') })).toEqual([
      ".kiln.yml:7:5: included file 'ci/missing.yml' does not exist",
    ]);
  });

  it('refuses paths that leave the repository or are not YAML', async () => {
    expect(await lines({ '.kiln.yml': "include: ['../secrets.yml', ci/run.sh]\njobs:\n" + job('a') })).toEqual([
      ".kiln.yml:1:11: include path '../secrets.yml' must stay inside the repository (paths are relative to its root, without '..')",
      ".kiln.yml:1:29: include path 'ci/run.sh' must name a .yml or .yaml file",
    ]);
  });

  it('refuses pipeline settings in an included file, and reports its YAML errors there', async () => {
    expect(await lines({ '.kiln.yml': 'include: [ci/a.yml, ci/b.yml]\njobs:\n' + job('a'), 'ci/a.yml': 'on: { push: {} }\njobs:\n' + job('x'), 'ci/b.yml': 'jobs:\n  y: [\n' })).toEqual([
      "ci/a.yml:1:1: 'on' cannot appear in an included file (it may hold only jobs and include); set it in the main pipeline file",
      expect.stringMatching(/^ci\/b\.yml:3:1: YAML syntax error/),
    ]);
  });

  it('reports an include without the files read as missing files, never a crash', () => {
    const r = parsePipeline('include: [ci/a.yml]\njobs:\n' + job('a'), '.kiln.yml');
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([".kiln.yml:1:11: included file 'ci/a.yml' does not exist"]);
  });
});

describe('reading the included files', () => {
  it('reads nothing for a pipeline without a top-level include, even with a matrix include', async () => {
    const r = await parseRepo({ '.kiln.yml': "jobs:\n  a:\n    image: x\n    matrix: { v: ['1'], include: [{ v: '2' }] }\n    steps: [{ run: r }]\n" });
    expect(r.reads).toEqual([]);
    expect(r.pipeline?.jobs).toHaveLength(1);
  });

  it('follows includes of a pipeline written as one flow mapping', async () => {
    const r = await parseRepo({ '.kiln.yml': '{ include: [ci/a.yml], jobs: { m: { image: x, steps: [{ run: r }] } } }\n', 'ci/a.yml': 'jobs:\n' + job('a') });
    expect(r.pipeline?.jobs.map((j) => j.key)).toEqual(['m', 'a']);
  });
});
