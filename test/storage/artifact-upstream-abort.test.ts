import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobContainer } from '../../src-main/core/job-contract.js';
import { ArtifactStore } from '../../src-main/storage/artifact-store.js';
import { tempDataDir } from './storage-container.js';

// When Docker fails part-way through an upload, the tar stream of upstream artifacts is left
// unread with a blob file open in it. Unless it is destroyed, the file is closed only by garbage
// collection, and Node then prints "Closing file descriptor N on garbage collection" (DEP0137).
const openFdsUnder = (dir: string): number =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
    } catch {
      return false;
    }
  }).length;

describe('upstream artifacts put into a workspace whose upload fails', () => {
  let data: ReturnType<typeof tempDataDir> | undefined;
  afterEach(() => data?.cleanup());

  it('closes the blob file it was reading when the upload is refused part-way', async () => {
    data = tempDataDir();
    const artifacts = new ArtifactStore(data.db, data.dataDir);
    await artifacts.store({ runId: 'run', jobId: 'up', path: 'dist/big.bin', source: Readable.from([Buffer.alloc(16 * 1024 * 1024, 1)]) });
    // Stands in for the Docker engine dropping the connection after the first bytes (cannot be
    // provoked on demand from a real engine): it reads one chunk, then rejects without reading on.
    const container: JobContainer = {
      workspace: '/workspace',
      exec: async () => ({ exitCode: 0 }),
      getArchive: async () => { throw new Error('unused'); },
      putArchive: async (_dir, tar) => {
        await new Promise<void>((resolve) => tar.once('data', () => { tar.pause(); resolve(); }));
        throw new Error('(HTTP code 500) server error - connection reset');
      },
    };
    await expect(artifacts.restoreInto(container, ['up'], () => undefined)).rejects.toThrow(/connection reset/);
    const blobs = join(data.dataDir, 'blobs');
    const deadline = Date.now() + 3_000;
    while (openFdsUnder(blobs) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(openFdsUnder(blobs)).toBe(0);
  });
});
