/**
 * The JSON Schema of `.kiln.yml` (draft-07). It checks shape only: keys, types, enums and required
 * keys. Cross-references (needs, stages), cycles, expressions and durations are checked by
 * semantic-checks.ts, so every problem is reported in one pass.
 *
 * Numbers never reach the schema: yaml-source.ts keeps numeric scalars as their source text, which
 * is why there is no `number` type below, and why `env: { PORT: 5432 }` is simply the string "5432".
 *
 * This file is the single source of the schema, yet ajv never compiles it at run time:
 * scripts/compile-schemas.mjs turns it into schema-validator.generated.ts at build time (loading ajv
 * and compiling cost ~150 ms at every CLI start). So this module stays plain data with no imports;
 * after editing it, run `node scripts/compile-schemas.mjs` (npm run build does it too).
 */

const str = { type: 'string' } as const;
const strList = { type: 'array', items: str } as const;
/** An env map: values are text; `true`/`false`/null are accepted and written as 'true'/'false'/''. */
const envMap = { type: 'object', additionalProperties: { type: ['string', 'boolean', 'null'] } } as const;
const NAME = '^[A-Za-z_][A-Za-z0-9_-]*$';
/** shared/model/env-name.ts's ENV_NAME_PATTERN, spelled out: this file is compiled alone (schema-validator.test.ts checks they agree). */
export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';

const matrixCell = { type: ['string', 'boolean', 'object'] } as const;
const matrixEntry = { type: 'object', additionalProperties: matrixCell } as const;

const service = {
  type: 'object',
  additionalProperties: false,
  required: ['image'],
  properties: {
    image: str,
    env: envMap,
    ports: strList,
    command: { type: ['string', 'array'], items: str },
  },
} as const;

const step = {
  type: 'object',
  additionalProperties: false,
  required: ['run'],
  properties: {
    id: { type: 'string', pattern: NAME },
    name: str,
    run: str,
    if: { type: ['string', 'boolean'] },
    env: envMap,
    'continue-on-error': { type: 'boolean' },
    timeout: str,
  },
} as const;

const job = {
  type: 'object',
  additionalProperties: false,
  required: ['image', 'steps'],
  properties: {
    name: str,
    stage: str,
    image: str,
    needs: { type: ['string', 'array'], items: str },
    if: { type: ['string', 'boolean'] },
    timeout: str,
    'runs-on': { type: ['string', 'array'], items: str },
    secrets: { type: 'array', items: { type: 'string', pattern: ENV_NAME_PATTERN } },
    env: envMap,
    matrix: {
      type: 'object',
      properties: {
        include: { type: 'array', items: matrixEntry },
        exclude: { type: 'array', items: matrixEntry },
      },
      additionalProperties: { type: 'array', minItems: 1, items: matrixCell },
    },
    services: { type: 'object', propertyNames: { pattern: '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$' }, additionalProperties: service },
    cache: {
      type: 'object',
      additionalProperties: false,
      required: ['key', 'paths'],
      properties: { key: str, 'restore-keys': strList, paths: { type: 'array', minItems: 1, items: str } },
    },
    artifacts: {
      type: 'object',
      additionalProperties: false,
      required: ['paths'],
      properties: {
        paths: { type: 'array', minItems: 1, items: str },
        when: { enum: ['on_success', 'on_failure', 'always'] },
        'expire-in': str,
      },
    },
    reports: {
      type: 'object',
      additionalProperties: false,
      required: ['junit'],
      properties: { junit: { type: 'array', minItems: 1, items: str } },
    },
    steps: { type: 'array', minItems: 1, items: step },
    outputs: { type: 'object', propertyNames: { pattern: NAME }, additionalProperties: str },
    when: { enum: ['on_success', 'manual'] },
    'approval-timeout': str,
  },
} as const;

/** `on.schedule`: GitHub's list of `{ cron }`, plus Kiln's `timezone` and `branches`. */
const schedule = {
  type: 'array',
  minItems: 1,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['cron'],
    properties: { cron: str, timezone: str, branches: strList },
  },
} as const;

const branchFilter = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { branches: strList, tags: strList, paths: strList, 'paths-ignore': strList },
} as const;

export const PIPELINE_SCHEMA = {
  $id: 'https://kiln.dev/schema/pipeline.json',
  type: 'object',
  additionalProperties: false,
  required: ['jobs'],
  properties: {
    name: str,
    on: {
      type: 'object',
      additionalProperties: false,
      properties: {
        push: branchFilter,
        pull_request: { type: ['object', 'null'], additionalProperties: false, properties: { branches: strList, paths: strList, 'paths-ignore': strList } },
        manual: { type: 'boolean' },
        schedule,
      },
    },
    priority: { enum: ['low', 'normal', 'high', 'critical'] },
    concurrency: {
      type: 'object',
      additionalProperties: false,
      properties: { group: str, 'cancel-in-progress': { type: 'boolean' } },
    },
    env: envMap,
    stages: { type: 'array', minItems: 1, items: { type: 'string', pattern: NAME } },
    jobs: { type: 'object', minProperties: 1, propertyNames: { pattern: NAME }, additionalProperties: job },
    include: { type: 'array', items: str },
  },
} as const;
