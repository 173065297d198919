/**
 * The real pipeline compiler, git checkout and Docker executor, loaded for the engine unless the
 * caller passes its own. Loaded lazily by module name so that `kiln` commands which never build
 * an engine do not pay for dockerode at start-up.
 */
import type { CheckoutPort, JobExecutor, PipelinePort } from './ports.js';

type Module = Record<string, unknown>;

/** Imports the first of `candidates` that exists and exports `name`. */
async function findExport<T>(name: string, candidates: string[]): Promise<T> {
  for (const spec of candidates) {
    let mod: Module;
    try {
      mod = (await import(spec)) as Module;
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') continue;
      throw err;
    }
    if (name in mod) return mod[name] as T;
  }
  throw new Error(`Kiln is incomplete: no module exports ${name} (looked in ${candidates.join(', ')})`);
}

const PIPELINE = ['../pipeline/index.js', '../pipeline/parse.js', '../pipeline/plan.js', '../pipeline/triggers.js', '../pipeline/trigger.js', '../pipeline/planner.js', '../pipeline/parser.js'];
const CHECKOUT = ['../executor/checkout.js', '../executor/index.js'];
const EXECUTOR = ['../executor/docker-executor.js', '../executor/index.js', '../executor/executor.js'];

export async function loadPorts(o: {
  instanceId: string;
  mirrorsDir: string;
  executor?: JobExecutor;
  pipeline?: PipelinePort;
  checkout?: CheckoutPort;
}): Promise<{ executor: JobExecutor; pipeline: PipelinePort; checkout: CheckoutPort }> {
  const pipeline: PipelinePort = o.pipeline ?? {
    parsePipeline: await findExport('parsePipeline', PIPELINE),
    matchesTrigger: await findExport('matchesTrigger', PIPELINE),
    planPipeline: await findExport('planPipeline', PIPELINE),
  };
  const checkout: CheckoutPort = o.checkout ?? {
    readFileAtCommit: await findExport('readFileAtCommit', CHECKOUT),
    resolveCommit: await findExport('resolveCommit', CHECKOUT),
  };
  let executor = o.executor;
  if (!executor) {
    const DockerExecutor = await findExport<new (options: { instanceId: string; mirrorsDir: string }) => JobExecutor>('DockerExecutor', EXECUTOR);
    executor = new DockerExecutor({ instanceId: o.instanceId, mirrorsDir: o.mirrorsDir });
  }
  return { executor, pipeline, checkout };
}
