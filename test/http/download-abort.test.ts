import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src-main/http/app.js';
import { BlobStore } from '../../src-main/storage/blob-store.js';
import type { ArtifactInfo } from '../../shared/model/run.js';
import { startFakeEngine } from '../helpers/fake-engine.js';

// A download the client abandons must close the blob's file at once. Left to garbage collection,
// Node prints "(node) Warning: Closing file descriptor N on garbage collection" (and DEP0137) to
// the server's stderr, and a busy server can run out of descriptors first.
const openFdsOn = (path: string): number =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  }).length;

describe('an artifact download the client abandons', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-download-'));
  const blobs = new BlobStore(join(dir, 'blobs'));
  const size = 32 * 1024 * 1024;
  let sha = '';
  let server: RunningServer;
  let fake: Awaited<ReturnType<typeof startFakeEngine>>;

  beforeAll(async () => {
    sha = (await blobs.write(Readable.from([Buffer.alloc(size, 120)]))).sha256;
    const info: ArtifactInfo = { id: 'a1', runId: 'r', jobId: 'j', path: 'big.bin', size, sha256: sha, createdAt: 0 };
    fake = await startFakeEngine({ extraRepositories: [{ name: 'acme/none', url: join(dir, 'none') }] });
    server = await startServer({
      engine: fake.engine, host: '127.0.0.1', port: 0,
      artifacts: { open: async (id) => (id === 'a1' ? { info, stream: (await blobs.open(sha))!.stream } : undefined) },
    });
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('closes the blob file as soon as the client goes away, not on garbage collection', async () => {
    const blobPath = blobs.path(sha);
    await new Promise<void>((resolve, reject) => {
      const req = request(`${server.url}/api/artifacts/a1/download`, (res) => {
        expect(res.statusCode).toBe(200);
        res.once('data', () => {
          expect(openFdsOn(blobPath)).toBe(1); // the download holds it while it streams
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.once('error', reject);
      req.end();
    });
    const deadline = Date.now() + 5_000;
    while (openFdsOn(blobPath) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(openFdsOn(blobPath)).toBe(0);
  });
});
