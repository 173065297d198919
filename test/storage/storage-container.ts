/**
 * A real container driven through dockerode, seen through the JobContainer interface the executor
 * gives hooks: what the storage tests use to exercise caches and artifacts on the real engine.
 * Containers carry the label kiln.test=storage so cleanup never touches anyone else's.
 */
import Docker from 'dockerode';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { JobContainer } from '../../src-main/core/job-contract.js';
import { openDatabase, type Db } from '../../src-main/storage/db.js';
import type { PlannedJob } from '../../shared/model/plan.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { TEST_IMAGE } from '../helpers/test-image.js';

export const docker = new Docker();

export interface TestContainer extends JobContainer {
  id: string;
  /** Runs a shell script in the workspace; resolves with exit code and stdout. */
  sh(script: string): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  remove(): Promise<void>;
}

export async function startContainer(): Promise<TestContainer> {
  const c = await docker.createContainer({
    Image: TEST_IMAGE,
    Cmd: ['sleep', '3600'],
    WorkingDir: '/workspace',
    Labels: { 'kiln.test': 'storage' },
    HostConfig: { Init: true },
  });
  await c.start();
  const exec: JobContainer['exec'] = async (argv, options = {}) => {
    const e = await c.exec({
      Cmd: argv,
      AttachStdout: true,
      AttachStderr: true,
      WorkingDir: options.workdir ?? '/workspace',
      Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
    });
    const stream = await e.start({ hijack: true, stdin: false });
    const out = new PassThrough();
    const err = new PassThrough();
    out.on('data', (b: Buffer) => options.onOutput?.('stdout', b));
    err.on('data', (b: Buffer) => options.onOutput?.('stderr', b));
    docker.modem.demuxStream(stream, out, err);
    await new Promise<void>((resolve, reject) => {
      stream.on('end', () => resolve());
      stream.on('close', () => resolve());
      stream.on('error', reject);
    });
    const info = await e.inspect();
    return { exitCode: info.ExitCode ?? -1 };
  };
  return {
    id: c.id,
    workspace: '/workspace',
    exec,
    async putArchive(dir: string, tar: Readable): Promise<void> {
      await exec(['mkdir', '-p', dir]);
      await c.putArchive(tar, { path: dir });
    },
    async getArchive(path: string): Promise<Readable> {
      return (await c.getArchive({ path })) as unknown as Readable;
    },
    async sh(script: string) {
      let stdout = '';
      let stderr = '';
      const { exitCode } = await exec(['sh', '-ec', script], {
        onOutput: (s, b) => {
          if (s === 'stdout') stdout += b.toString();
          else stderr += b.toString();
        },
      });
      return { exitCode, stdout, stderr };
    },
    async remove() {
      await c.remove({ force: true }).catch(() => undefined);
    },
  };
}

/** A fresh data directory with its database; `cleanup` closes and deletes both. */
export function tempDataDir(): { dataDir: string; db: Db; cleanup(): void } {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-storage-'));
  const db = openDatabase(join(dataDir, 'kiln.db'));
  return {
    dataDir,
    db,
    cleanup() {
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Collects hook log lines. */
export function logSink(): { lines: string[]; log: (text: string) => void } {
  const lines: string[] = [];
  return { lines, log: (text) => lines.push(text) };
}

/** A planned job as the planner would produce it, with only what storage hooks read. */
export function plannedJob(overrides: Partial<PlannedJob> = {}): PlannedJob {
  return {
    id: 'build', key: 'build', name: 'build', matrix: {}, image: TEST_IMAGE, needs: [], skipped: false,
    env: {}, secrets: [], timeoutMs: 60_000, services: [], steps: [], ...overrides,
  };
}

export function pushEvent(branch: string, overrides: Partial<TriggerEvent> = {}): TriggerEvent {
  return { kind: 'push', repo: 'acme/web', branch, sha: 'a'.repeat(40), ref: `refs/heads/${branch}`, ...overrides };
}

export function pullRequestEvent(number: number, headBranch: string): TriggerEvent {
  return { kind: 'pull_request', repo: 'acme/web', branch: headBranch, baseBranch: 'main', prNumber: number, sha: 'b'.repeat(40), ref: `refs/pull/${number}/head` };
}
