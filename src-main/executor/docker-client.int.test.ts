import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../../test/helpers/test-image.js';
import { createDockerClient } from './docker-client.js';

const require = createRequire(import.meta.url);
const dockerodeDir = dirname(require.resolve('dockerode'));
const modemDir = dirname(require.resolve('docker-modem', { paths: [dockerodeDir] }));
const tarFsPath = require.resolve('tar-fs', { paths: [dockerodeDir] });
const uuidPath = require.resolve('uuid', { paths: [dockerodeDir] });
const uuidDir = uuidPath.slice(0, uuidPath.lastIndexOf('/uuid/') + '/uuid/'.length);
const tarStreamPath = require.resolve('tar-stream', { paths: [dirname(tarFsPath)] });
const readableStreamPath = require.resolve('readable-stream', { paths: [modemDir] });
const loadedUnder = (dir: string): string[] => Object.keys(require.cache).filter((k) => k.startsWith(dir));

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

// Each test file runs in its own process (pool forks), so nothing loaded dockerode before this.
const docker = createDockerClient();

describe('the Docker client with deferred dependencies', () => {
  it('loads dockerode without its build, BuildKit and stdin-stream dependencies, which load on first use', () => {
    expect(require.cache[readableStreamPath]).toBeUndefined();
    expect(require.cache[tarStreamPath]).toBeUndefined();
    // Only the stand-in sits at uuid's entry path; none of its own files is loaded yet.
    expect(loadedUnder(uuidDir)).toEqual([uuidPath]);
    const uuid = require(uuidPath) as { v4(): string };
    expect(uuid.v4()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(loadedUnder(uuidDir).length).toBeGreaterThan(1);
  });

  it('builds an image from a context directory honouring .dockerignore (tar-fs loads on use)', async () => {
    const context = mkdtempSync(join(tmpdir(), 'kiln-client-'));
    cleanups.push(async () => rmSync(context, { recursive: true, force: true }));
    writeFileSync(join(context, 'Dockerfile'), `FROM ${TEST_IMAGE}\nCOPY . /ctx\nRUN test -e /ctx/keep.txt && test ! -e /ctx/ignored.txt\n`);
    writeFileSync(join(context, 'keep.txt'), 'kept\n');
    writeFileSync(join(context, 'ignored.txt'), 'must not reach the build\n');
    writeFileSync(join(context, '.dockerignore'), 'ignored.txt\n');
    const tag = `kiln-test/client-build:${randomBytes(4).toString('hex')}`;
    cleanups.push(() => docker.getImage(tag).remove({ force: true }));

    const stream = (await docker.buildImage({ context, src: ['Dockerfile', 'keep.txt', 'ignored.txt', '.dockerignore'] }, { t: tag, rm: true, forcerm: true })) as unknown as Readable;
    const progress = await new Promise<Array<{ error?: string; stream?: string }>>((resolve, reject) => {
      docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string; stream?: string }>) => (err ? reject(err) : resolve(out)));
    });
    expect(progress.filter((p) => p.error), progress.map((p) => p.stream ?? p.error ?? '').join('')).toEqual([]);
    expect((await docker.getImage(tag).inspect()).RepoTags).toContain(tag);
    expect(require.cache[tarStreamPath]).toBeDefined();
  });

  it('streams an exec started with stdin open and no hijack (docker-modem http_duplex loads on use)', async () => {
    const container: Dockerode.Container = await docker.createContainer({
      Image: TEST_IMAGE,
      Cmd: ['sh', '-c', 'while :; do sleep 3600; done'],
      Labels: { 'kiln.test': 'docker-client' },
      HostConfig: { Init: true },
    });
    cleanups.push(() => container.remove({ force: true }));
    await container.start();
    const exec = await container.exec({ Cmd: ['sh', '-c', 'echo duplex'], AttachStdout: true, AttachStderr: true });
    const stream = (await exec.start({ hijack: false, stdin: true })) as unknown as Readable;
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.once('end', resolve);
      stream.once('error', reject);
    });
    // One stdout frame: 8-byte header, then the text.
    const raw = Buffer.concat(chunks);
    expect(raw[0]).toBe(1);
    expect(raw.subarray(8).toString()).toBe('duplex\n');
    expect(require.cache[readableStreamPath]).toBeDefined();
  });
});
