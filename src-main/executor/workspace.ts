/**
 * Fills the job container's /workspace before any step runs, through the Docker API only (no bind
 * mount, so a remote engine works):
 *   - git: the host mirror streams `git archive <sha>` (the tree exactly at that commit; no .git
 *     directory, no submodules, no LFS objects);
 *   - dir: a tar of the directory as it is on disk (uncommitted changes included), without its
 *     top-level `.git`, streamed with the `tar` package.
 *
 * Two phases, so the host-side work overlaps the container's start while the upload itself does
 * not: `prepareWorkspace` (mirror fetch and `git archive` spawn, or loading `tar`) runs while the
 * engine starts the container; `put` runs once it is running. Measured on Docker 20.10: an archive
 * put into a created-but-not-started container costs the engine a mount + unmount of its file
 * system and holds the container while `start` waits, ~80 ms on the job's critical path whether
 * sent before or alongside start; into the running container it costs ~45 ms.
 */
import { PassThrough, pipeline, Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { makeTar } from './archive.js';
import { archiveCommit, redactUrl } from '../git/checkout.js';
import { putArchive } from './containers.js';
import type { WorkspaceSource } from '../core/job-contract.js';
import { KILN_DIR, WORKSPACE } from './step-script.js';

/** Kiln's own directory (pid files, $KILN_ENV files), writable by any user the image runs as. */
const KILN_DIR_ENTRY = { name: `${KILN_DIR.slice(1)}/`, mode: 0o1777 };

type TarModule = typeof import('tar');
let tarModule: Promise<TarModule> | undefined;

/** The `tar` package (~10–15 ms to load): only directory workspaces need it, and only once the container is starting. */
function loadTar(): Promise<TarModule> {
  tarModule ??= import('tar');
  return tarModule;
}

/** `head` then every chunk of `rest`: one tar stream out of two. */
function concatTar(head: Buffer, rest: AsyncIterable<Buffer>): Readable {
  return Readable.from(
    (async function* () {
      yield head;
      for await (const chunk of rest) yield chunk;
    })(),
  );
}

export interface PreparedWorkspace {
  /** One archive put at '/' into the running container: /kiln, then the source under /workspace. */
  put(container: Dockerode.Container): Promise<void>;
  /** Releases what `put` would have consumed (a spawned `git archive`) when it will not run. */
  abort(): void;
}

export async function prepareWorkspace(source: WorkspaceSource, mirrorsDir: string, log: (text: string) => void): Promise<PreparedWorkspace> {
  const started = Date.now();
  const head = makeTar([KILN_DIR_ENTRY, { name: `${WORKSPACE.slice(1)}/`, mode: 0o777 }], false);
  const ready = (): void => log(`workspace ready in ${Date.now() - started} ms`);
  if (source.kind === 'git') {
    log(`checkout ${redactUrl(source.url)} at ${source.sha}`);
    const archive = await archiveCommit({ url: source.url, credentials: source.credentials }, source.sha, mirrorsDir, `${WORKSPACE.slice(1)}/`);
    // Until `put` awaits it, a failing or aborted `git archive` must not be an unhandled rejection.
    archive.done.catch(() => undefined);
    // Read from git's stdout at once: Node discards the unread output of a child that exits when
    // nothing listens to it (a small archive is written completely before the container runs).
    // The PassThrough holds it, and its backpressure pauses git for a large one.
    const tree = new PassThrough();
    pipeline(archive.stream, tree, () => undefined);
    return {
      async put(container) {
        try {
          await Promise.all([putArchive(container, '/', concatTar(head, tree)), archive.done]);
        } catch (err) {
          archive.kill();
          throw err;
        }
        ready();
      },
      abort: () => archive.kill(),
    };
  }
  log(`copying ${source.path} into the workspace`);
  const { c: createTar } = await loadTar();
  return {
    async put(container) {
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
      ready();
    },
    abort: () => undefined,
  };
}
