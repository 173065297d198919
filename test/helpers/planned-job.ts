/**
 * Planned jobs written by hand for executor tests (the executor never sees YAML): one job with the
 * given steps, numbered in order, and every other field at a neutral default unless `extra` sets it.
 */
import type { PlannedJob, PlannedStep } from '../../shared/model/plan.js';

export function plannedJob(steps: Array<Omit<PlannedStep, 'index'>>, defaults: { id: string; image: string }, extra: Partial<PlannedJob> = {}): PlannedJob {
  return {
    id: defaults.id,
    key: defaults.id,
    name: defaults.id,
    matrix: {},
    image: defaults.image,
    needs: [],
    skipped: false,
    env: {},
    secrets: [],
    timeoutMs: 60_000,
    services: [],
    ...extra,
    steps: steps.map((s, index) => ({ ...s, index })),
  };
}
