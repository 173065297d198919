import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobContainer } from '../../src-main/core/job-contract.js';
import { hashWorkspaceFiles, renderCacheKey } from '../../src-main/storage/workspace-hash.js';
import { startContainer, type TestContainer } from './storage-container.js';

const ctx = { event: 'push', branch: 'main', sha: 'a'.repeat(40), repo: 'acme/web', matrix: { node: 20 }, env: { TOOL: 'npm' } };

describe('cache keys rendered against the checked-out workspace', () => {
  let box: TestContainer;
  /** The same container, but as an image without find/sha256sum: exec always fails. */
  let bare: JobContainer;

  beforeAll(async () => {
    box = await startContainer();
    await box.sh('mkdir -p a/b .git && printf 1 > package-lock.json && printf 2 > a/b/yarn.lock && printf 3 > a/other.txt && printf 4 > .git/lock && printf 5 > "./-odd name.lock"');
    bare = { workspace: box.workspace, exec: async () => ({ exitCode: 127 }), putArchive: box.putArchive, getArchive: box.getArchive };
  });
  afterAll(async () => box.remove());

  it('hashes the same files to the same digest in the container and through the archive fallback', async () => {
    const sets = [['**/*.lock', 'package-lock.json'], ['a/**'], ['nothing-*']];
    const execs: string[][] = [];
    const counting: JobContainer = { ...bare, exec: async (argv, o) => { execs.push(argv); return box.exec(argv, o); } };
    const viaExec = await hashWorkspaceFiles(counting, sets);
    expect(execs.map((a) => a[0])).toEqual(['find', 'sha256sum']);
    const viaArchive = await hashWorkspaceFiles(bare, sets);
    expect(viaExec).toEqual(viaArchive);
    expect(viaExec.get(JSON.stringify(sets[0]))).toMatch(/^[0-9a-f]{64}$/);
    expect(viaExec.get(JSON.stringify(sets[2]))).toBe('');
  });

  it('changes when a matched file changes and not when an unmatched one does, and ignores .git', async () => {
    const key = "${{ env.TOOL }}-${{ matrix.node }}-${{ hashFiles('**/*.lock') }}";
    const before = await renderCacheKey(key, ctx, box);
    expect(before).toMatch(/^npm-20-[0-9a-f]{64}$/);
    await box.sh('printf changed > a/other.txt && printf changed > .git/lock');
    expect(await renderCacheKey(key, ctx, box)).toBe(before);
    await box.sh('printf changed > a/b/yarn.lock');
    expect(await renderCacheKey(key, ctx, box)).not.toBe(before);
  });

  it('renders keys without hashFiles without touching the container', async () => {
    expect(await renderCacheKey('plain-${{ branch }}', ctx, bare)).toBe('plain-main');
  });
});
