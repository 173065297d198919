/**
 * Fills the job container's /workspace before any step runs, through the Docker API only (no bind
 * mount, so a remote engine works):
 *   - git: the host mirror streams `git archive <sha>` (the tree exactly at that commit; no .git
 *     directory, no submodules, no LFS objects);
 *   - dir: a tar of the directory as it is on disk (uncommitted changes included), without its
 *     top-level `.git`, streamed with the `tar` package.
 */
import { Readable } from 'node:stream';
import { c as createTar } from 'tar';
import type Dockerode from 'dockerode';
import { makeTar } from './archive.js';
import { archiveCommit, redactUrl } from './checkout.js';
import { putArchive } from './containers.js';
import type { WorkspaceSource } from './job-contract.js';
import { KILN_DIR, WORKSPACE } from './step-script.js';

/** Kiln's own directory (pid files, $KILN_ENV files), writable by any user the image runs as. */
const KILN_DIR_ENTRY = { name: `${KILN_DIR.slice(1)}/`, mode: 0o1777 };

/** `head` then every chunk of `rest`: one tar stream out of two. */
function concatTar(head: Buffer, rest: AsyncIterable<Buffer>): Readable {
  return Readable.from(
    (async function* () {
      yield head;
      for await (const chunk of rest) yield chunk;
    })(),
  );
}

/**
 * One archive put at '/' (each archive call costs the engine a mount of the container's file
 * system, so one is cheaper than three): /kiln, then the source under /workspace. Runs before the
 * container starts.
 */
export async function populateWorkspace(container: Dockerode.Container, source: WorkspaceSource, mirrorsDir: string, log: (text: string) => void): Promise<void> {
  const started = Date.now();
  const head = makeTar([KILN_DIR_ENTRY, { name: `${WORKSPACE.slice(1)}/`, mode: 0o777 }], false);
  if (source.kind === 'git') {
    log(`checkout ${redactUrl(source.url)} at ${source.sha}`);
    const archive = await archiveCommit({ url: source.url, credentials: source.credentials }, source.sha, mirrorsDir, `${WORKSPACE.slice(1)}/`);
    try {
      await Promise.all([putArchive(container, '/', concatTar(head, archive.stream)), archive.done]);
    } catch (err) {
      archive.kill();
      throw err;
    }
  } else {
    log(`copying ${source.path} into the workspace`);
    const stream = createTar(
      {
        cwd: source.path,
        portable: true,
        prefix: WORKSPACE.slice(1),
        filter: (path: string) => !/^(\.\/)?\.git(\/|$)/.test(path),
      },
      ['.'],
    ) as unknown as AsyncIterable<Buffer>;
    await putArchive(container, '/', concatTar(head, stream));
  }
  log(`workspace ready in ${Date.now() - started} ms`);
}

