/**
 * The pipeline schema's validator, compiled ahead of time (scripts/compile-schemas.mjs → the
 * generated module) so that neither ajv nor its schema compiler is loaded at run time. Same ajv
 * options as before (allErrors, verbose), hence the same errors, in the same order.
 */
import type { ValidateFunction } from 'ajv';
import { validate } from './schema-validator.generated.js';

/** The compiled validator (allErrors, verbose: errors carry their parentSchema for did-you-mean). */
export function pipelineValidator(): ValidateFunction {
  return validate as unknown as ValidateFunction;
}
