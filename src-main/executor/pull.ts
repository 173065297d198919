/**
 * Makes sure an image is present on the engine: inspect, and pull when missing, reporting progress
 * as throttled `system` lines. A failure becomes an InfrastructureError with a sentence a user can
 * act on: `image 'x' not found locally and could not be pulled from <registry>: <reason>`. A pull
 * that found no room on the engine is not the registry's doing: it says so as any other write the
 * engine's full storage refused (`the Docker engine's storage is full while pulling image x: …`),
 * which is also what tells the disk guard to hold new jobs until that storage has room.
 */
import type Dockerode from 'dockerode';
import { DOCKER_STORAGE_FULL, isDiskFull } from '../core/disk-full.js';
import { dockerMessage, statusCodeOf } from './containers.js';

export class InfrastructureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InfrastructureError';
  }
}

/** The registry an image reference points at, as a user would name it. */
export function registryOf(image: string): string {
  const first = image.split('/')[0];
  const hasRegistry = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return hasRegistry ? first : 'Docker Hub (docker.io)';
}

interface PullEvent {
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** Progress lines at most this often (per image), plus every layer's completion. */
const PROGRESS_INTERVAL_MS = 1000;

export async function ensureImage(docker: Dockerode, image: string, log: (text: string) => void, signal: AbortSignal): Promise<void> {
  try {
    await docker.getImage(image).inspect();
    return;
  } catch (err) {
    if (statusCodeOf(err) !== 404) throw err;
  }
  const fail = (reason: string): InfrastructureError => new InfrastructureError(isDiskFull(reason)
    ? `${DOCKER_STORAGE_FULL} while pulling image ${image}: ${reason}`
    : `image '${image}' not found locally and could not be pulled from ${registryOf(image)}: ${reason}`);
  log(`pulling image ${image} from ${registryOf(image)}`);
  let stream: NodeJS.ReadableStream;
  try {
    stream = (await docker.pull(image)) as NodeJS.ReadableStream;
  } catch (err) {
    throw fail(dockerMessage(err));
  }
  const started = Date.now();
  let lastReport = 0;
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      (stream as unknown as { destroy?: () => void }).destroy?.();
      reject(new InfrastructureError(`pull of image '${image}' was interrupted`));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let failure: string | undefined;
    docker.modem.followProgress(
      stream,
      (err: Error | null) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) return;
        if (err) reject(fail(err.message));
        else if (failure) reject(fail(failure));
        else resolve();
      },
      (event: PullEvent) => {
        if (event.error || event.errorDetail?.message) {
          failure = event.errorDetail?.message ?? event.error;
          return;
        }
        const now = Date.now();
        const layerDone = event.status === 'Pull complete' || event.status === 'Already exists';
        if (layerDone || now - lastReport >= PROGRESS_INTERVAL_MS) {
          lastReport = now;
          const parts = [event.id, event.status, event.progress].filter(Boolean);
          if (parts.length > 0) log(`pull ${image}: ${parts.join(' ')}`);
        }
      },
    );
  });
  // followProgress may succeed without the image being usable (e.g. a manifest for another platform).
  try {
    await docker.getImage(image).inspect();
  } catch (err) {
    throw fail(`the pull finished but the image is not present (${dockerMessage(err)})`);
  }
  log(`pulled image ${image} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
