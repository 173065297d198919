/**
 * `kiln plan [FILE] [--event E] [--branch B] [--tag T] [--sha S] [--base B] [--repo R] [--json]`
 * Prints the expanded plan for an event: jobs in topological order, matrix expanded, conditions
 * applied, skipped jobs marked. Exit 0 planned (even when the event does not trigger the
 * pipeline: `triggered` says so), 1 invalid pipeline or plan, 2 bad usage or unreadable file.
 */
import { basename, dirname, resolve } from 'node:path';
import { formatDiagnostic, hasErrors } from '../../shared/diagnostics.js';
import type { Diagnostic } from '../../shared/diagnostics.js';
import type { ChangeSet } from '../../shared/model/change-set.js';
import type { Plan } from '../../shared/model/plan.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { planPipeline } from '../pipeline/plan.js';
import { matchesTrigger } from '../pipeline/triggers.js';
import { DEFAULT_PIPELINE_FILE, readPipelineFile } from './validate.js';
import { isGitRepository, resolveLocalCommit } from '../git/checkout.js';
import { parseCommandArgs, parseEvent, usageError as printUsageError, ZERO_SHA } from './args.js';


const USAGE = `Usage: kiln plan [FILE] [--event E] [--branch B] [--tag T] [--sha S] [--base B] [--repo R] [--changed PATH]... [--json]

Shows the plan of a pipeline file (default ${DEFAULT_PIPELINE_FILE}) for one event.
  --event E   push | tag | pull_request | manual (default: tag when --tag is given, else push)
  --branch B  the pushed branch, or a pull request's head branch (default main)
  --tag T     the pushed tag (tag events)
  --base B    a pull request's base branch, matched by on.pull_request.branches (default: --branch)
  --sha S     the commit (default: HEAD of the git repository the file is in, else ${ZERO_SHA})
  --repo R    owner/name (default: the name of the file's directory)
  --changed P a changed file, for path filters and changed() (repeatable; without it, everything counts as changed)
  --json      machine-readable output
Exit status: 0 planned, 1 invalid pipeline, 2 bad usage or unreadable file.`;

const OPTIONS = {
  event: { type: 'string' },
  branch: { type: 'string' },
  tag: { type: 'string' },
  sha: { type: 'string' },
  base: { type: 'string' },
  repo: { type: 'string' },
  changed: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usageError = (message: string): number => printUsageError('plan', message);

export async function command(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('plan', USAGE, argv, OPTIONS);
  if (!parsed.ok) return parsed.exitCode;
  const v = parsed.values;
  const kind = parseEvent(v.event, v.tag !== undefined ? 'tag' : 'push');
  if (typeof kind === 'object') return usageError(kind.error);
  if (kind === 'tag' && v.tag === undefined) return usageError('--event tag needs --tag');
  const file = parsed.file ?? DEFAULT_PIPELINE_FILE;
  const branch = kind === 'tag' ? v.branch : (v.branch ?? 'main');
  const event: TriggerEvent = {
    kind,
    repo: v.repo ?? basename(dirname(resolve(file))),
    sha: v.sha ?? (await headCommit(dirname(resolve(file)))),
    triggeredBy: 'cli',
    ...(branch !== undefined ? { branch } : {}),
    ...(v.tag !== undefined ? { tag: v.tag } : {}),
    ...(kind === 'pull_request' ? { baseBranch: v.base ?? branch } : {}),
    ...(kind === 'tag' ? { ref: `refs/tags/${v.tag}` } : kind !== 'pull_request' ? { ref: `refs/heads/${branch}` } : {}),
  };

  const read = await readPipelineFile(file, 'plan');
  if (!read) return 2;
  if (!read.pipeline || hasErrors(read.diagnostics)) {
    process.stdout.write(read.diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join(''));
    return 1;
  }
  const changes: ChangeSet | undefined = v.changed ? { kind: 'files', files: v.changed, range: '--changed' } : undefined;
  const triggered = matchesTrigger(read.pipeline, event, changes);
  const { plan, diagnostics } = planPipeline(read.pipeline, event, changes ? { changes } : {});
  const shown = dedupe([...read.diagnostics, ...diagnostics]).map((d) => `${formatDiagnostic(d)}\n`).join('');
  if (!plan) {
    process.stdout.write(shown);
    return 1;
  }
  if (v.json) {
    process.stderr.write(shown);
    process.stdout.write(`${JSON.stringify(planJson(plan, triggered), null, 2)}\n`);
  } else {
    process.stdout.write(shown + humanPlan(plan, event, triggered));
  }
  return 0;
}

/** HEAD's commit when `dir` is in a git repository (what a push would carry), else all zeros. */
async function headCommit(dir: string): Promise<string> {
  if (!(await isGitRepository(dir))) return ZERO_SHA;
  return resolveLocalCommit(dir, 'HEAD').catch(() => ZERO_SHA);
}

function dedupe(diagnostics: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const id = formatDiagnostic(d);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** The `--json` shape: stable keys (absent values are null), jobs in topological order. */
export function planJson(plan: Plan, triggered: boolean) {
  return {
    pipeline: plan.pipeline,
    priority: plan.priority,
    triggered,
    jobs: plan.jobs.map((j) => ({
      id: j.id,
      name: j.name,
      matrix: j.matrix,
      image: j.image,
      needs: j.needs,
      stage: j.stage ?? null,
      skipped: j.skipped,
      skipReason: j.skipReason ?? null,
      steps: j.steps.map((s) => ({ name: s.name, run: s.run, if: s.if })),
    })),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd()).join('\n');
}

function humanPlan(plan: Plan, event: TriggerEvent, triggered: boolean): string {
  const ref = event.kind === 'tag' ? `tag ${event.tag}` : event.kind === 'pull_request' ? `${event.branch} → ${event.baseBranch}` : event.branch;
  const head = [
    `pipeline ${plan.pipeline} · priority ${plan.priority} · ${event.kind} ${ref} @ ${event.sha.slice(0, 7)}`,
    triggered ? 'triggered: yes' : 'triggered: no (on: does not match this event; the plan below is what would run)',
  ];
  if (plan.concurrency) head.push(`concurrency: ${plan.concurrency.group}${plan.concurrency.cancelInProgress ? ' (cancels in-progress runs)' : ''}`);
  const rows = [['#', 'JOB', 'STAGE', 'IMAGE', 'NEEDS', 'STEPS', 'STATUS']];
  plan.jobs.forEach((j, i) => {
    const needs = j.needs.length > 2 ? `${j.needs[0]} +${j.needs.length - 1} more` : j.needs.join(', ');
    rows.push([String(i + 1), j.id, j.stage ?? '-', j.image, needs || '-', String(j.steps.length), j.skipped ? `skipped: ${j.skipReason ?? ''}` : 'run']);
  });
  return `${head.join('\n')}\n\n${table(rows)}\n`;
}
