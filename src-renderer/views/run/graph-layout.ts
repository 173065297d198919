import type { JobSummary, RunDetail } from '../../../shared/model/run.js';

/**
 * Lays the pipeline out as GitLab and GitHub users expect: one column group per stage, in stage
 * order; inside a stage, jobs that need another job of the same stage move one sub-column right.
 * Jobs without a stage are placed by their depth in the DAG. Pure and deterministic (unit-tested).
 */
export const NODE_W = 232;
export const NODE_H = 46;
const ROW_GAP = 14;
const COL_GAP = 72;
const GROUP_PAD = 14;
const GROUP_HEAD = 30;

export interface LaidOutGroup {
  id: string;
  label: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface LaidOutJob {
  job: JobSummary;
  /** Relative to the group when `groupId` is set. */
  x: number;
  y: number;
  groupId?: string;
}

export interface GraphLayout {
  groups: LaidOutGroup[];
  jobs: LaidOutJob[];
  width: number;
  height: number;
}

/** Longest-path depth of each job among `jobs`, counting only needs inside the same set. */
function depths(jobs: JobSummary[], parentsOf: Map<string, string[]>): Map<string, number> {
  const ids = new Set(jobs.map((j) => j.id));
  const memo = new Map<string, number>();
  const visit = (id: string, trail: Set<string>): number => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    if (trail.has(id)) return 0; // a cycle cannot be planned; never loop on bad data
    trail.add(id);
    const parents = (parentsOf.get(id) ?? []).filter((p) => ids.has(p));
    const d = parents.length === 0 ? 0 : 1 + Math.max(...parents.map((p) => visit(p, trail)));
    trail.delete(id);
    memo.set(id, d);
    return d;
  };
  for (const j of jobs) visit(j.id, new Set());
  return memo;
}

export function layoutRun(run: Pick<RunDetail, 'jobs' | 'edges' | 'stages'>): GraphLayout {
  const parentsOf = new Map<string, string[]>();
  for (const e of run.edges) parentsOf.set(e.to, [...(parentsOf.get(e.to) ?? []), e.from]);

  // Columns: known stages first (in order), then unstaged jobs by global depth.
  const staged = run.stages.map((stage) => ({ stage, jobs: run.jobs.filter((j) => j.stage === stage) })).filter((s) => s.jobs.length > 0);
  const unstaged = run.jobs.filter((j) => !j.stage || !run.stages.includes(j.stage));
  const groups: LaidOutGroup[] = [];
  const out: LaidOutJob[] = [];
  let x = 0;
  let height = 0;

  for (const { stage, jobs } of staged) {
    const d = depths(jobs, parentsOf);
    const cols = Math.max(...jobs.map((j) => d.get(j.id) ?? 0)) + 1;
    const rows = new Array<number>(cols).fill(0);
    for (const job of jobs) {
      const c = d.get(job.id) ?? 0;
      out.push({ job, groupId: `stage:${stage}`, x: GROUP_PAD + c * (NODE_W + COL_GAP / 2), y: GROUP_HEAD + GROUP_PAD + rows[c] * (NODE_H + ROW_GAP) });
      rows[c]++;
    }
    const width = GROUP_PAD * 2 + cols * NODE_W + (cols - 1) * (COL_GAP / 2);
    const h = GROUP_HEAD + GROUP_PAD * 2 + Math.max(...rows) * (NODE_H + ROW_GAP) - ROW_GAP;
    groups.push({ id: `stage:${stage}`, label: stage, x, y: 0, width, height: h });
    x += width + COL_GAP;
    height = Math.max(height, h);
  }

  if (unstaged.length > 0) {
    const d = depths(unstaged, parentsOf);
    const cols = Math.max(...unstaged.map((j) => d.get(j.id) ?? 0)) + 1;
    const rows = new Array<number>(cols).fill(0);
    for (const job of unstaged) {
      const c = d.get(job.id) ?? 0;
      out.push({ job, x: x + c * (NODE_W + COL_GAP), y: GROUP_HEAD + GROUP_PAD + rows[c] * (NODE_H + ROW_GAP) });
      rows[c]++;
    }
    x += cols * (NODE_W + COL_GAP);
    height = Math.max(height, GROUP_HEAD + GROUP_PAD + Math.max(...rows) * (NODE_H + ROW_GAP));
  }

  return { groups, jobs: out, width: Math.max(0, x - COL_GAP), height };
}
