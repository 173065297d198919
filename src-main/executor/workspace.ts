/**
 * Fills the job container's /workspace before any step runs, through the Docker API only (no bind
 * mount, so a remote engine works):
 *   - git: the host mirror streams `git archive <sha>` (the tree exactly at that commit; no .git
 *     directory, no submodules, no LFS objects);
 *   - dir: a tar of the directory as it is on disk (uncommitted changes included), without its
 *     top-level `.git`, streamed with the `tar` package.
 */
import { c as createTar } from 'tar';
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { archiveCommit, redactUrl } from './checkout.js';
import { putArchive } from './containers.js';
import type { WorkspaceSource } from './job-contract.js';
import { WORKSPACE } from './step-script.js';

export async function populateWorkspace(container: Dockerode.Container, source: WorkspaceSource, mirrorsDir: string, log: (text: string) => void): Promise<void> {
  const started = Date.now();
  if (source.kind === 'git') {
    log(`checkout ${redactUrl(source.url)} at ${source.sha}`);
    const archive = await archiveCommit({ url: source.url, credentials: source.credentials }, source.sha, mirrorsDir);
    try {
      await Promise.all([putArchive(container, WORKSPACE, archive.stream), archive.done]);
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
        filter: (path: string) => !/^(\.\/)?\.git(\/|$)/.test(path),
      },
      ['.'],
    ) as unknown as Readable;
    await putArchive(container, WORKSPACE, stream);
  }
  log(`workspace ready in ${Date.now() - started} ms`);
}
