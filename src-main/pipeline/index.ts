/**
 * The pipeline engine's public surface: parse → validate → plan, triggers, expressions and the
 * readiness decision schedulers make. Nothing here touches Docker, SQLite or the network.
 */
export { parsePipeline, splitCommand } from './parse.js';
export { planPipeline, builtinVariables, eventContext, jobExpressionContext } from './plan.js';
export type { PlanOptions } from './plan.js';
export { matchesTrigger, matchesPatterns, needsChangedFiles } from './triggers.js';
export { readIncludes, MAX_INCLUDED_FILES } from './include.js';
export type { IncludedFiles } from './include.js';
export { pathFilterAllows, changedMatches, pathPatternProblem } from './path-filter.js';
export { decideJob, needsOutcome } from './readiness.js';
export {
  evaluateCondition,
  evaluateExpression,
  evaluateExpr,
  parseExpression,
  parseCondition,
  renderTemplate,
  splitTemplate,
  usesStatusFunctions,
  globMatch,
  toText,
  isTruthy,
  looseEquals,
  ExpressionError,
} from './expressions.js';
export type { ExpressionContext, Expr, Literal, TemplatePart } from './expressions.js';
export { substituteVariables, prepareRunScript } from './variables.js';
export type { SubstituteOptions, SubstituteResult, VariableProblem, RunScript } from './variables.js';
export { expandMatrix, flattenCombination, combinationLabel } from './matrix.js';
export type { MatrixCell, Combination, MatrixExpansion } from './matrix.js';
export { topoSort } from './dag.js';
export { parseDuration, DEFAULT_JOB_TIMEOUT_MS } from './duration.js';
export { DEFAULT_MATRIX_LIMITS } from './semantic-checks.js';
export type { MatrixLimits } from './semantic-checks.js';
export { PIPELINE_SCHEMA } from './schema.js';
export type { Pipeline, PipelineJob, PipelineStep, PipelineService, Triggers, BranchFilter } from './pipeline-model.js';
