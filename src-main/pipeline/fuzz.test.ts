/**
 * Fuzz-style robustness: thousands of random and mutated inputs (deterministic seeded PRNG, so a
 * failure reproduces) must never crash the engine. Each input yields a pipeline or diagnostics
 * with a real position; internal errors (code FILE) count as crashes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Diagnostic } from '../../shared/diagnostics.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import type { ChangeSet } from '../../shared/model/change-set.js';
import type { IncludedFiles } from './include.js';
import { evaluateCondition, ExpressionError, parseExpression, renderTemplate } from './expressions.js';
import { parsePipeline } from './parse.js';
import { planPipeline } from './plan.js';
import { matchesTrigger } from './triggers.js';
import { prepareRunScript, substituteVariables } from './variables.js';
import { seededRandom } from '../../test/helpers/seeded-random.js';


const rand = seededRandom(0xc0ffee);
const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const int = (n: number) => Math.floor(rand() * n);

const event: TriggerEvent = { kind: 'push', repo: 'acme/web', branch: 'main', sha: 'abc', ref: 'refs/heads/main' };
const CHANGED_FILES = ['src/a.ts', 'docs/index.md', 'README.md', 'ci/x.yml', 'a/b/c/d.js', '!odd', '[x].md'];
const randomChanges = (): ChangeSet =>
  rand() < 0.2 ? { kind: 'everything', reason: 'fuzz' } : { kind: 'files', files: CHANGED_FILES.filter(() => rand() < 0.4), range: 'a..b' };

function checkDiagnostics(diagnostics: Diagnostic[], text: string): void {
  for (const d of diagnostics) {
    if (d.code === 'FILE' || d.line < 1 || d.col < 1) throw new Error(`unpositioned or internal diagnostic ${JSON.stringify(d)} for:\n${text}`);
  }
}

function checkDocument(text: string, included?: IncludedFiles): 'pipeline' | 'diagnostics' {
  const r = parsePipeline(text, 'fuzz.yml', undefined, included);
  checkDiagnostics(r.diagnostics, text);
  if (!r.pipeline) {
    if (!r.diagnostics.some((d) => d.severity === 'error')) throw new Error(`no pipeline and no error for:\n${text}`);
    return 'diagnostics';
  }
  const changes = randomChanges();
  matchesTrigger(r.pipeline, event);
  matchesTrigger(r.pipeline, event, changes);
  matchesTrigger(r.pipeline, { ...event, kind: 'pull_request', baseBranch: 'main' }, changes);
  const planned = planPipeline(r.pipeline, event, { changes });
  checkDiagnostics(planned.diagnostics, text);
  if (!planned.plan && !planned.diagnostics.some((d) => d.severity === 'error')) throw new Error(`no plan and no error for:\n${text}`);
  return 'pipeline';
}

const SEEDS = [
  readFileSync(join(import.meta.dirname, 'testdata', 'product-example.kiln.yml'), 'utf8'),
  'jobs:\n  a:\n    image: "node:${{ matrix.v }}"\n    matrix: { v: [1, 2], include: [{v: 3, x: y}], exclude: [{v: 1}] }\n    steps:\n      - run: echo ${{ matrix.x }} $HOME\n        if: failure() || always()\n',
  'stages: [a, b]\nenv: { A: "${B:-c}" }\njobs:\n  x: { stage: a, image: i, steps: [{run: r}] }\n  y: { stage: b, image: "${A}", needs: x, steps: [{run: r, timeout: 1m}] }\n',
  "on:\n  push: { branches: [main], paths: ['src/**', '!src/**/*.md', '**.js?'] }\n  pull_request: { paths-ignore: ['docs/**'] }\ninclude: [ci/a.yml]\njobs:\n  d:\n    image: i\n    if: changed('docs/**', '!docs/api/**') && branch == 'main'\n    steps: [{run: r}]\n",
];
SEEDS.push(
  "on:\n  schedule:\n    - cron: '30 3 * * 1-5'\n      timezone: Europe/Paris\njobs:\n  a:\n    image: i\n    outputs: { v: '${{ steps.s.outputs.x }}' }\n    steps: [{ id: s, run: echo }]\n  b:\n    image: i\n    needs: a\n    when: manual\n    approval-timeout: 2h\n    if: needs.a.outputs.v == 'x'\n    env: { V: '${{ needs.a.outputs.v }}' }\n    steps: [{ run: 'echo ${{ needs.a.outputs.v }}' }]\n",
);
const SNIPPETS = ['needs.a.outputs.v', 'when: manual', 'id: v', 'outputs:', 'schedule:', '- cron: ', ':', '- ', '{', '}', '[', ']', '\n', '  ', '"', "'", '$', '${{', '}}', '&a', '*a', '!!str ', '#', '|', '>', ',', '? ', 'on', 'needs: [x]', 'if: ', '${X:?y}', '\t', 'jobs:', '<<: '];

function mutate(text: string): string {
  let out = text;
  const n = 1 + int(4);
  for (let i = 0; i < n; i++) {
    const at = int(out.length + 1);
    switch (int(5)) {
      case 0:
        out = out.slice(0, at) + out.slice(at + 1 + int(8));
        break;
      case 1:
        out = out.slice(0, at) + pick(SNIPPETS) + out.slice(at);
        break;
      case 2: {
        const lines = out.split('\n');
        const a = int(lines.length);
        const b = int(lines.length);
        [lines[a], lines[b]] = [lines[b], lines[a]];
        out = lines.join('\n');
        break;
      }
      case 3: {
        const lines = out.split('\n');
        const a = int(lines.length);
        lines.splice(a, 0, lines[a] ?? '');
        out = lines.join('\n');
        break;
      }
      default:
        out = out.slice(0, at) + String.fromCharCode(int(128)) + out.slice(at);
    }
  }
  return out;
}

const KEYS = ['name', 'on', 'priority', 'env', 'stages', 'jobs', 'image', 'needs', 'if', 'steps', 'run', 'matrix', 'include', 'exclude', 'services', 'cache', 'key', 'paths', 'paths-ignore', 'pull_request', 'artifacts', 'timeout', 'stage', 'push', 'branches', 'tags', 'manual', 'a', 'b',
  'id', 'outputs', 'when', 'approval-timeout', 'schedule', 'cron', 'timezone'];
const SCALARS: unknown[] = [
  'main', 'x', '', '1.0', 3, true, false, null, '${{ matrix.a }}', '${A:-b}', "branch == 'main'", '15m', 'a', 'b', '${{', '$$',
  'src/**', '!docs/**', '**.js?', '[a-', 'x[]', '\\', '+', "changed('src/**')", "changed('[') || always()", 'ci/a.yml', '../up.yml', '/ci/b.yaml',
  'manual', '${{ needs.a.outputs.v }}', '${{ steps.v.outputs.x }}', "needs.a.outputs.v == 'x'", '30 3 * * 1-5', 'Europe/Paris', [{ cron: '0 * * * *' }],
];

function randomValue(depth: number): unknown {
  const r = rand();
  if (depth > 4 || r < 0.4) return pick(SCALARS);
  if (r < 0.7) return Array.from({ length: int(4) }, () => randomValue(depth + 1));
  const obj: Record<string, unknown> = {};
  for (let i = int(5); i > 0; i--) obj[pick(KEYS)] = randomValue(depth + 1);
  return obj;
}

function randomPipeline(): string {
  const jobs: Record<string, unknown> = {};
  for (let i = 1 + int(4); i > 0; i--) {
    const job: Record<string, unknown> = { image: pick(['x', 'node:${{ matrix.a }}', 3]), steps: [{ run: pick(['echo', 'echo ${{ branch }}', '${{ x']) }] };
    for (let k = int(4); k > 0; k--) job[pick(KEYS)] = randomValue(2);
    if (rand() < 0.5) job.needs = [pick(['a', 'b', 'c', 'j0', 'j1'])];
    jobs[pick(['a', 'b', 'c', 'j0', 'j1', 'bad name'])] = job;
  }
  const doc: Record<string, unknown> = { jobs };
  for (let k = int(3); k > 0; k--) doc[pick(KEYS)] = randomValue(1);
  return stringify(doc);
}

const EXPR_TOKENS = ['changed(', 'needs.a.outputs.v', 'steps.s.outputs.o', 'needs.a.result', 'needs', "'docs/**'", "'[z-a]'", 'branch', 'event', 'tag', 'sha', 'repo', 'ref', 'matrix.a', 'env.X', "'main'", '"x"', "'it''s'", '1', '-2.5', 'true', 'null', '==', '!=', '&&', '||', '!', '(', ')', ',', 'startsWith(', 'contains(', 'matches(', 'success()', 'always()', 'hashFiles(', 'foo', '=', '&', '.', "'", '@', ' '];

describe('fuzzing the pipeline engine', () => {
  it('never crashes on 2000 mutated pipeline files', { timeout: 120_000 }, () => {
    const outcomes = { pipeline: 0, diagnostics: 0 };
    for (let i = 0; i < 2000; i++) outcomes[checkDocument(mutate(pick(SEEDS)))]++;
    // Both outcomes must occur, or the mutations are not exercising anything.
    expect(outcomes.pipeline).toBeGreaterThan(100);
    expect(outcomes.diagnostics).toBeGreaterThan(100);
  });

  it('never crashes on 2000 random structured documents', { timeout: 120_000 }, () => {
    const outcomes = { pipeline: 0, diagnostics: 0 };
    for (let i = 0; i < 2000; i++) outcomes[checkDocument(randomPipeline())]++;
    expect(outcomes.diagnostics).toBeGreaterThan(100);
  });

  it('never crashes on 1000 random documents that include each other (cycles, missing files, bad keys)', { timeout: 120_000 }, () => {
    const outcomes = { pipeline: 0, diagnostics: 0 };
    const paths = ['ci/a.yml', 'ci/b.yml', 'ci/c.yaml', 'fuzz.yml'];
    for (let i = 0; i < 1000; i++) {
      const included = new Map<string, string | undefined>();
      for (const p of paths) {
        if (rand() < 0.05) continue; // missing
        // Mostly distinct job names per file, sometimes one another file has too (a duplicate).
        const name = rand() < 0.1 ? 'j0' : `${p.replace(/\W/g, '_')}_job`;
        const doc: Record<string, unknown> = { jobs: { [name]: { image: 'x', steps: [{ run: 'r' }], ...(rand() < 0.3 ? { needs: [pick(['j0', 'a', 'ci_a_yml_job'])] } : {}) } } };
        if (rand() < 0.5) doc.include = Array.from({ length: int(3) }, () => (rand() < 0.1 ? pick(['../x.yml', 'x.txt', 3]) : pick(paths)));
        if (rand() < 0.05) doc[pick(KEYS)] = randomValue(1);
        const text = stringify(doc);
        included.set(p, rand() < 0.1 ? mutate(text) : text);
      }
      const body = rand() < 0.7 ? 'jobs:\n  j0: { image: i, steps: [{ run: r }] }\n' : rand() < 0.5 ? randomPipeline() : mutate(pick(SEEDS));
      const main = `include: [${Array.from({ length: 1 + int(3) }, () => pick(paths.slice(0, 3))).join(', ')}]\n${body}`;
      outcomes[checkDocument(main, included)]++;
    }
    expect(outcomes.pipeline).toBeGreaterThan(50);
    expect(outcomes.diagnostics).toBeGreaterThan(50);
  });

  it('never crashes on 5000 random expressions: each parses or throws an ExpressionError with a column', { timeout: 120_000 }, () => {
    const ctx = { event: 'push', branch: 'main', sha: 'a', repo: 'r', matrix: { a: '1' }, env: { X: 'y' } };
    let parsed = 0;
    for (let i = 0; i < 5000; i++) {
      const source = Array.from({ length: 1 + int(8) }, () => pick(EXPR_TOKENS)).join(rand() < 0.5 ? ' ' : '');
      try {
        parseExpression(source);
        expect(typeof evaluateCondition(source, ctx)).toBe('boolean');
        parsed++;
      } catch (e) {
        if (!(e instanceof ExpressionError)) throw new Error(`${String(e)} for ${JSON.stringify(source)}`);
        expect(e.col).toBeGreaterThanOrEqual(1);
        expect(e.col).toBeLessThanOrEqual(source.length + 1);
      }
      for (const text of [`a \${{ ${source} }} b`, `$${source}`, `\${${source}}`]) {
        substituteVariables(text, { vars: { X: '1' }, ctx });
        prepareRunScript(text, ctx);
        try {
          renderTemplate(text, ctx);
        } catch (e) {
          if (!(e instanceof ExpressionError)) throw e;
        }
      }
    }
    expect(parsed).toBeGreaterThan(200);
  });
});
