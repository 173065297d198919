/**
 * Builds the engine pool from the configuration and gives the worker pool its view of it.
 *
 * Engines: `engines:` in kiln.config.yml when it lists any (a settings save that changes the list
 * reconfigures the pool, see EnginePool.reconfigure); else the one engine the `docker` command would use (executor/engines/engine-address.ts), limited by `concurrency.jobs` alone (its
 * own limit is the highest that setting allows, so a new value from the settings page applies);
 * a caller's own executor (tests, benchmarks) is that one engine. Engine health changes go out on
 * the bus (`bus.engines`), where the worker pool hears them.
 *
 * Placement needs each queued job's `runs-on:` and image, which live in the run's stored plan: the
 * plans are parsed once per run and kept for the last 200 runs.
 */
import type { Plan, PlannedJob } from '../../shared/model/plan.js';
import type { KilnConfig } from '../core/engine-contract.js';
import type { JobExecutor } from '../core/ports.js';
import { DockerExecutor } from '../executor/docker-executor.js';
import { discoverLocalEngine } from '../executor/engines/engine-address.js';
import { EnginePool, type EngineExecutor, type EngineSpec, type PoolEngine } from '../executor/engines/engine-pool.js';
import type { Claim } from '../queue/job-queue.js';
import type { EngineSlots } from '../queue/worker-pool.js';
import type { RunStore } from '../storage/run-store.js';
import type { EngineBus } from './event-bus.js';

export interface EngineSetOptions {
  config: KilnConfig;
  instanceId: string;
  mirrorsDir: string;
  /** The caller's executor: the one engine (no Docker engines are built). */
  executor?: JobExecutor;
  bus: EngineBus;
  onError(message: string, err: unknown): void;
  health?: { pingIntervalMs?: number; pingTimeoutMs?: number };
}

/** The most jobs concurrency.jobs allows: the one implicit engine never limits below it. */
const ONLY_ENGINE_LIMIT = 256;

/**
 * The engines `config` asks for. Executors are made lazily (`connect`): the pool reconfiguring
 * after a save makes one only for an engine that is new or whose connection changed.
 */
export function poolEngines(o: Pick<EngineSetOptions, 'config' | 'instanceId' | 'mirrorsDir'>): EngineSpec[] {
  if (o.config.engines?.length) {
    return o.config.engines.map((e) => {
      const endpoint = { name: e.name, address: e.address, tls: e.tls, sshKey: e.sshKey, hostKey: e.hostKey, source: 'kiln.config.yml' };
      return {
        name: e.name, address: e.address, source: 'kiln.config.yml', limit: e.limit, labels: e.labels,
        // The material is part of the connection: new material means a new executor.
        connection: JSON.stringify({ address: e.address, tls: e.tls, sshKey: e.sshKey, hostKey: e.hostKey }),
        connect: () => new DockerExecutor({ instanceId: o.instanceId, mirrorsDir: o.mirrorsDir, endpoint }),
      };
    });
  }
  const { endpoint } = discoverLocalEngine();
  return [{
    name: endpoint.name, address: endpoint.address, source: endpoint.source, limit: ONLY_ENGINE_LIMIT, labels: [],
    connection: `the engine docker uses: ${JSON.stringify(endpoint)}`, connect: () => new DockerExecutor({ instanceId: o.instanceId, mirrorsDir: o.mirrorsDir }),
  }];
}

export function buildEnginePool(o: EngineSetOptions): EnginePool {
  const engines: PoolEngine[] = o.executor
    ? [{ name: 'local', address: 'local', source: 'the engine options', limit: ONLY_ENGINE_LIMIT, labels: [], executor: o.executor as EngineExecutor }]
    : poolEngines(o).map(({ connect, ...e }) => ({ ...e, executor: connect() }));
  return new EnginePool(engines, {
    ...o.health,
    onDown: (engine, jobIds, reason) => o.bus.engines.emit({ kind: 'down', engine, jobIds, reason }),
    onUp: (engine) => o.bus.engines.emit({ kind: 'up', engine }),
    onError: o.onError,
  });
}

/** The worker pool's view: placement by the job's labels and image. */
export function engineSlots(pool: EnginePool, store: RunStore): EngineSlots {
  const plans = new Map<string, Map<string, PlannedJob>>();
  const info = (jobId: string, runId: string): PlannedJob | undefined => {
    let jobs = plans.get(runId);
    if (!jobs) {
      const run = store.getRun(runId);
      if (!run) return undefined;
      jobs = new Map((JSON.parse(run.plan_json) as Plan).jobs.map((j) => [j.id, j]));
      if (plans.size >= 200) plans.delete(plans.keys().next().value as string);
      plans.set(runId, jobs);
    }
    const row = store.getJob(jobId);
    return row ? jobs.get(row.plan_id) : undefined;
  };
  // One engine without labels takes every job: no per-job filter (the claim stays one indexed read).
  // Asked at each claim: a settings save can add engines or labels.
  const filtering = (): boolean => pool.names.length > 1 || pool.labelSets().some((e) => e.labels.length > 0);
  return {
    hasFreeSlot: () => pool.hasFreeSlot(),
    get canPlace() {
      return filtering() ? (jobId: string, runId: string) => pool.canTake(info(jobId, runId)?.runsOn) : undefined;
    },
    reserve: (claim: Claim) => {
      const job = filtering() ? info(claim.jobId, claim.runId) : undefined;
      return pool.reserve({ jobId: claim.jobId, repo: claim.repo, runsOn: job?.runsOn, image: job?.image });
    },
    release: (jobId) => pool.release(jobId),
    hold: (jobId, engine) => pool.hold(jobId, engine),
    suspect: (engine, reason, jobId) => pool.suspect(engine, reason, jobId),
  };
}
