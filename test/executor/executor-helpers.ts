/**
 * Shared setup for the executor's integration tests: planned jobs written by hand (the executor
 * never sees YAML), an executor with a unique instance id per test, and leftovers by label.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import type { PlannedJob, PlannedStep } from '../../shared/model/plan.js';
import type { LogLine, StepSummary } from '../../shared/model/run.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { DockerExecutor } from '../../src-main/executor/docker-executor.js';
import type { JobResult, JobRunRequest, WorkspaceSource } from '../../src-main/core/job-contract.js';
import { LogStore } from '../../src-main/storage/log-store.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { plannedJob } from '../helpers/planned-job.js';

export const docker = new Dockerode();

export function step(run: string, extra: Partial<PlannedStep> = {}): Omit<PlannedStep, 'index'> {
  return { name: extra.name ?? run.split('\n')[0].slice(0, 30), run, env: {}, if: '', continueOnError: false, ...extra };
}

export function job(steps: Array<Omit<PlannedStep, 'index'>>, extra: Partial<PlannedJob> = {}): PlannedJob {
  return plannedJob(steps, { id: 'test-job', image: TEST_IMAGE }, extra);
}

export const EVENT: TriggerEvent = { kind: 'push', repo: 'acme/web', branch: 'main', sha: 'a'.repeat(40), ref: 'refs/heads/main' };

export interface Harness {
  instanceId: string;
  dir: string;
  executor: DockerExecutor;
  /** An empty source directory for jobs that need no checkout. */
  source: WorkspaceSource;
  cleanup(): Promise<void>;
}

export function harness(options: { killGraceMs?: number; maxStepOutputBytes?: number; docker?: Dockerode } = {}): Harness {
  const instanceId = `test-${randomBytes(6).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'kiln-exec-'));
  const src = join(dir, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'hello.txt'), 'hello from the workspace\n');
  const executor = new DockerExecutor({ instanceId, mirrorsDir: join(dir, 'mirrors'), killGraceMs: options.killGraceMs ?? 2000, maxStepOutputBytes: options.maxStepOutputBytes, docker: options.docker });
  return {
    instanceId,
    dir,
    executor,
    source: { kind: 'dir', path: src },
    async cleanup() {
      // A test that failed half-way must not leave containers behind for the next one.
      await new DockerExecutor({ instanceId, mirrorsDir: join(dir, 'mirrors') }).reapOrphans(() => false);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Collected {
  result: JobResult;
  lines: LogLine[];
  steps: StepSummary[];
  /** stdout/stderr text of step `i`. */
  out(i: number): string;
  /** All lines as text. */
  all(): string;
}

/**
 * Runs a job with its lines appended to a fresh real log store, which numbers them (as in the
 * engine); `onLine` sees each line as it is stored, while the job runs.
 */
export async function run(h: Harness, planned: PlannedJob, extra: Partial<JobRunRequest> = {}, onLine?: (line: LogLine) => void): Promise<Collected> {
  const lines: LogLine[] = [];
  const steps: StepSummary[] = [];
  const logs = new LogStore(mkdtempSync(join(h.dir, 'logs-')));
  const result = await h.executor.runJob({
    runId: `run-${randomBytes(3).toString('hex')}`,
    jobId: planned.id,
    job: planned,
    event: EVENT,
    source: h.source,
    secrets: {},
    signal: new AbortController().signal,
    onLog: (entry) => {
      const line = logs.append(planned.id, entry);
      lines.push(line);
      onLine?.(line);
      return line;
    },
    onStep: (s) => steps.push(s),
    ...extra,
  }).finally(() => logs.closeAll());
  return {
    result,
    lines,
    steps,
    out: (i) => lines.filter((l) => l.step === i && l.stream !== 'system').map((l) => l.text).join('\n'),
    all: () => lines.map((l) => l.text).join('\n'),
  };
}

/** Containers, networks and volumes carrying this instance's label. */
export async function leftovers(instanceId: string): Promise<{ containers: number; networks: number; volumes: number }> {
  const filters = JSON.stringify({ label: [`kiln.instance=${instanceId}`] });
  const [containers, networks, volumes] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listNetworks({ filters }),
    docker.listVolumes({ filters }),
  ]);
  return { containers: containers.length, networks: networks.length, volumes: (volumes.Volumes ?? []).length };
}

export const NONE = { containers: 0, networks: 0, volumes: 0 };
