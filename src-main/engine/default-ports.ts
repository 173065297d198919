/**
 * The real pipeline compiler, git checkout and Docker executor, unless the caller passes its own
 * (benchmarks measure the engine's own overhead with a stub executor).
 */
import { DockerExecutor } from '../executor/docker-executor.js';
import { readFileAtCommit, resolveCommit } from '../git/checkout.js';
import { matchesTrigger, parsePipeline, planPipeline } from '../pipeline/index.js';
import type { CheckoutPort, JobExecutor, PipelinePort } from '../core/ports.js';
import type { Pipeline } from '../pipeline/pipeline-model.js';

export function loadPorts(o: {
  /** Labels every container/network/volume; stable per data directory (see Engine.start). */
  instanceId: string;
  mirrorsDir: string;
  executor?: JobExecutor;
  pipeline?: PipelinePort<Pipeline>;
  checkout?: CheckoutPort;
}): { executor: JobExecutor; pipeline: PipelinePort<Pipeline>; checkout: CheckoutPort } {
  return {
    executor: o.executor ?? new DockerExecutor({ instanceId: o.instanceId, mirrorsDir: o.mirrorsDir }),
    pipeline: o.pipeline ?? { parsePipeline, matchesTrigger, planPipeline },
    checkout: o.checkout ?? { readFileAtCommit, resolveCommit },
  };
}
