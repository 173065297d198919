/**
 * The validator is compiled at build time from schema.ts (scripts/compile-schemas.mjs) and the
 * result is committed: these tests fail when the committed module is stale, and prove that it
 * reports exactly what ajv compiling the schema at run time reported (same errors, same order).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { generateAll, ROOT, SCHEMAS } from '../../scripts/compile-schemas.mjs';
import { ENV_NAME_PATTERN as SHARED_ENV_NAME } from '../../shared/model/env-name.js';
import { ENV_NAME_PATTERN, PIPELINE_SCHEMA } from './schema.js';
import { pipelineValidator } from './schema-validator.js';
import { readYaml } from './yaml-source.js';

const DOCUMENTS: Record<string, string> = {
  'the product example (testdata/product-example.kiln.yml)': readFileSync(join(import.meta.dirname, 'testdata', 'product-example.kiln.yml'), 'utf8'),
  'unknown keys at every level': 'nme: x\non: { push: { branchs: [main] }, manul: true }\njobs:\n  a:\n    imag: i\n    image: i\n    services: { db: { image: pg, prots: [1] } }\n    steps: [{ runn: x, run: y }]\n',
  'missing required keys': 'concurrency: { cancel-in-progress: true }\njobs:\n  a: { steps: [{ name: x }] }\n  b: { image: i, cache: { key: k }, artifacts: {}, steps: [{ run: r }] }\n',
  'wrong types': 'on: push\nenv: { A: [1] }\njobs:\n  a:\n    image: [x]\n    needs: { a: 1 }\n    if: { x: 1 }\n    matrix: { include: [{ a: [1] }] }\n    steps: [{ run: { a: 1 }, continue-on-error: maybe }]\n',
  'bad enum values': 'priority: urgent\njobs:\n  a: { image: i, artifacts: { paths: [a], when: sometimes }, steps: [{ run: r }] }\n',
  'bad names': 'stages: [ok, "bad stage"]\njobs:\n  "bad job!": { image: i, steps: [{ run: r }] }\n  b: { image: i, secrets: [OK, no-dash], services: { Bad_Svc: { image: pg } }, steps: [{ run: r }] }\n',
  'empty lists and mappings': 'stages: []\njobs:\n  a: { image: i, matrix: { node: [] }, cache: { key: k, paths: [] }, steps: [] }\n',
  'no jobs': 'jobs: {}\n',
};

describe('the schema', () => {
  it('names secrets by the one env-name rule of shared/ (schema.ts is compiled alone, so it spells it out)', () => {
    expect(ENV_NAME_PATTERN).toBe(SHARED_ENV_NAME);
  });
});

describe('the generated pipeline validator', () => {
  it('matches a fresh compilation of schema.ts (run `node scripts/compile-schemas.mjs` when this fails)', async () => {
    const results = await generateAll();
    expect(results.map((r) => r.entry.output)).toEqual(SCHEMAS.map((s) => s.output));
    for (const r of results) expect(readFileSync(join(ROOT, r.entry.output), 'utf8')).toBe(r.text);
  });

  it('is an ES module that loads no ajv code at run time', () => {
    const text = readFileSync(join(import.meta.dirname, 'schema-validator.generated.ts'), 'utf8');
    expect(text).toMatch(/^export const validate = /m);
    expect(text).not.toMatch(/\brequire\(|from ['"]ajv/);
  });

  const runtime = new Ajv({ ...SCHEMAS[0].options }).compile(PIPELINE_SCHEMA);
  for (const [name, text] of Object.entries(DOCUMENTS)) {
    it(`reports the same errors as ajv compiling the schema at run time for ${name}`, () => {
      const { source } = readYaml(text, 'doc.yml');
      const validate = pipelineValidator();
      const ok = validate(source.data);
      expect(ok).toBe(runtime(source.data));
      expect(validate.errors ?? null).toEqual(runtime.errors ?? null);
      if (name !== 'the product example (testdata/product-example.kiln.yml)') expect(validate.errors?.length).toBeGreaterThan(0);
    });
  }
});
