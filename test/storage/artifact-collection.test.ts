import { createHash } from 'node:crypto';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactLimitError, ArtifactStore } from '../../src-main/storage/artifact-store.js';
import { logSink, startContainer, tempDataDir, type TestContainer } from './storage-container.js';

describe('artifact collection from a real container', () => {
  let data: ReturnType<typeof tempDataDir>;
  let box: TestContainer;

  beforeEach(async () => {
    data = tempDataDir();
    box = await startContainer();
  });
  afterEach(async () => {
    await box.remove();
    data.cleanup();
  });

  it('stores the files matching the globs with size, sha256 and times, and streams them back by id', async () => {
    await box.sh('mkdir -p dist/sub src && printf hello > dist/a.txt && printf world > dist/sub/b.js && printf no > src/c.txt && printf top > report.xml');
    const store = new ArtifactStore(data.db, data.dataDir, { now: () => 1_000, defaultExpireMs: 500 });
    const { log } = logSink();
    const infos = await store.collect({ container: box, runId: 'r1', jobId: 'j1', patterns: ['dist/**', '*.xml'], log });
    expect(infos.map((a) => a.path).sort()).toEqual(['dist/a.txt', 'dist/sub/b.js', 'report.xml']);
    const a = infos.find((i) => i.path === 'dist/a.txt');
    expect(a).toMatchObject({ runId: 'r1', jobId: 'j1', size: 5, createdAt: 1_000, expiresAt: 1_500 });
    expect(a?.sha256).toBe(createHash('sha256').update('hello').digest('hex'));
    expect(store.list('r1')).toHaveLength(3);
    expect(store.listForJob('j1')).toHaveLength(3);
    const opened = await store.open(a?.id ?? '');
    expect(opened?.info.path).toBe('dist/a.txt');
    expect(await text(opened!.stream)).toBe('hello');
    expect(await store.open('nope')).toBeUndefined();
  });

  it('names the patterns that matched no file after the count of those stored, and all of them when none matched', async () => {
    await box.sh('mkdir -p dist && printf a > dist/a.txt && ln -s /etc/passwd link');
    const store = new ArtifactStore(data.db, data.dataDir);
    const some = logSink();
    await store.collect({ container: box, runId: 'r', jobId: 'j', patterns: ['dist/**', 'coverage', 'missing.txt', 'link', '!dist/b.txt'], log: some.log });
    // The link was found (and skipped, saying so): only the two patterns that found nothing are named.
    expect(some.lines).toEqual([
      'artifact link skipped: it is a symlink to /etc/passwd, and links are not followed',
      'artifacts: 1 file stored (1 B)',
      "artifacts: no files match 'coverage', 'missing.txt'",
    ]);
    const none = logSink();
    await store.collect({ container: box, runId: 'r', jobId: 'j2', patterns: ['coverage', 'missing.txt'], log: none.log });
    expect(none.lines).toEqual(["artifacts: no files match 'coverage', 'missing.txt'"]);
  });

  it('honours expire-in over the default expiry', async () => {
    await box.sh('printf x > out.bin');
    const store = new ArtifactStore(data.db, data.dataDir, { now: () => 10, defaultExpireMs: 1_000 });
    const [a] = await store.collect({ container: box, runId: 'r', jobId: 'j', patterns: ['out.bin'], expireInMs: 5, log: () => {} });
    expect(a.expiresAt).toBe(15);
  });

  it('records nothing for an attempt that no longer holds its job, keeping the current attempt\'s file at the same path', async () => {
    const store = new ArtifactStore(data.db, data.dataDir);
    await box.sh('printf current > out.txt');
    await store.collect({ container: box, runId: 'r', jobId: 'j', patterns: ['out.txt'], log: () => {}, current: () => true });
    await box.sh('printf stale > out.txt');
    expect(await store.collect({ container: box, runId: 'r', jobId: 'j', patterns: ['out.txt'], log: () => {}, current: () => false })).toEqual([]);
    const [kept] = store.listForJob('j');
    expect(kept.size).toBe('current'.length);
  });

  it('a directory name as a pattern collects everything below it', async () => {
    await box.sh('mkdir -p build/x && printf 1 > build/x/one && printf 2 > build/two');
    const store = new ArtifactStore(data.db, data.dataDir);
    const infos = await store.collect({ container: box, runId: 'r', jobId: 'j', patterns: ['build'], log: () => {} });
    expect(infos.map((i) => i.path).sort()).toEqual(['build/two', 'build/x/one']);
  });

  it('never stores the target of a symlink to /etc/passwd, inside a matched directory or as the directory itself', async () => {
    await box.sh('mkdir -p dist && printf ok > dist/real.txt && ln -s /etc/passwd dist/passwd && ln -s /etc linked');
    const store = new ArtifactStore(data.db, data.dataDir);
    const { lines, log } = logSink();
    const infos = await store.collect({ container: box, runId: 'r', jobId: 'j', patterns: ['dist/**', 'linked/passwd', 'linked/**'], log });
    expect(infos.map((i) => i.path)).toEqual(['dist/real.txt']);
    expect(lines.join('\n')).toMatch(/dist\/passwd skipped: it is a symlink to \/etc\/passwd/);
    // A leading glob archives the whole workspace instead: links are skipped there too.
    const whole = await store.collect({ container: box, runId: 'r', jobId: 'j2', patterns: ['**/passwd', '**/*.txt'], log });
    expect(whole.map((i) => i.path)).toEqual(['dist/real.txt']);
    for (const a of store.list('r')) expect(await text((await store.open(a.id))!.stream)).not.toContain('root:x:0:0');
  });

  it('refuses ../ and absolute patterns with a clear error, after storing what the valid patterns match', async () => {
    await box.sh('printf ok > keep.txt');
    const store = new ArtifactStore(data.db, data.dataDir);
    const { lines, log } = logSink();
    await expect(
      store.collect({ container: box, runId: 'r', jobId: 'j', patterns: ['keep.txt', '../etc/passwd', '/etc/passwd', 'a/../../x'], log }),
    ).rejects.toThrow(/'\.\.\/etc\/passwd', '\/etc\/passwd', 'a\/\.\.\/\.\.\/x' refused/);
    expect(lines).toContain("artifact pattern '../etc/passwd' refused: it contains '..': artifact patterns cannot leave the workspace");
    expect(lines).toContain("artifact pattern '/etc/passwd' refused: it is absolute: artifact patterns are relative to the workspace");
    expect(store.list('r').map((a) => a.path)).toEqual(['keep.txt']);
  });

  it('fails clearly and records nothing when the job exceeds its size limit', async () => {
    await box.sh('mkdir -p dist && head -c 600 /dev/zero > dist/a && head -c 600 /dev/zero > dist/b');
    const store = new ArtifactStore(data.db, data.dataDir, { maxJobBytes: 1000 });
    const err = await store.collect({ container: box, runId: 'r', jobId: 'j', patterns: ['dist/*'], log: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactLimitError);
    expect((err as Error).message).toMatch(/exceed the per-job limit of 1000 B/);
    expect(store.list('r')).toEqual([]);
  });

  it('passes artifacts of upstream jobs into a downstream workspace, byte for byte', async () => {
    const long = `dist/${'d'.repeat(120)}/${'f'.repeat(140)}.txt`; // needs a PAX header in the tar
    await box.sh(`mkdir -p dist/deep ${long.slice(0, long.lastIndexOf('/'))} && printf long > ${long} && printf app > dist/app.js && head -c 100000 /dev/urandom > dist/deep/blob.bin && sha256sum dist/deep/blob.bin > /tmp/sum`);
    const store = new ArtifactStore(data.db, data.dataDir);
    await store.collect({ container: box, runId: 'r', jobId: 'build', patterns: ['dist/**'], log: () => {} });
    const expectedSum = (await box.sh('cat /tmp/sum')).stdout;
    const down = await startContainer();
    try {
      const { lines, log } = logSink();
      expect(await store.restoreInto(down, ['build'], log)).toBe(3);
      expect(lines.join('\n')).toMatch(/3 files .* put into the workspace/);
      expect((await down.sh(`cat ${long}`)).stdout).toBe('long');
      expect((await down.sh('cat dist/app.js')).stdout).toBe('app');
      expect((await down.sh('sha256sum dist/deep/blob.bin')).stdout).toBe(expectedSum);
    } finally {
      await down.remove();
    }
  });
});
