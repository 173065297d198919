/**
 * The real pipeline compiler, git checkout and Docker executor, unless the caller passes its own
 * (benchmarks measure the engine's own overhead with a stub executor).
 */
import { DockerExecutor } from '../executor/docker-executor.js';
import { changedFilesOf } from '../git/changed-files.js';
import { readFileAtCommit, resolveCommit } from '../git/checkout.js';
import { matchesTrigger, needsChangedFiles, parsePipeline, planPipeline, readIncludes } from '../pipeline/index.js';
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
    pipeline: o.pipeline ?? {
      parsePipeline: (text, file, included) => parsePipeline(text, file, undefined, included),
      matchesTrigger, planPipeline, needsChangedFiles, readIncludes: (text, read) => readIncludes(text, read),
    },
    checkout: o.checkout ?? { readFileAtCommit, resolveCommit, changedFiles: changedFilesOf },
  };
}
