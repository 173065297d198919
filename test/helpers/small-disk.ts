/**
 * A real small filesystem for the full-disk tests: a tmpfs of a few megabytes mounted by the test
 * (the tests run as root), so that ENOSPC comes from the kernel, not from a stand-in.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface SmallDisk {
  dir: string;
  /** Free bytes now (statfs, as the disk guard reads them). */
  free(): number;
  /** Writes a file of zeros until at most `leave` bytes are free; returns its path (delete it to give the room back). */
  fill(name: string, leave?: number): string;
  unmount(): void;
}

export function mountSmallDisk(dir: string, size: string): SmallDisk {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  const free = (): number => {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    free,
    fill(name, leave = 0) {
      const file = join(dir, name);
      const fd = openSync(file, 'w');
      try {
        const chunk = Buffer.alloc(4096);
        while (free() > leave) {
          try {
            writeSync(fd, chunk, 0, Math.min(chunk.length, Math.max(1, free() - leave)));
          } catch {
            break; // ENOSPC: full
          }
        }
      } finally {
        closeSync(fd);
      }
      return file;
    },
    unmount() {
      try {
        execFileSync('umount', ['-l', dir]);
      } catch {
        // already unmounted
      }
    },
  };
}

/** Deletes a file made by fill(), ignoring one already gone. */
export function removeFill(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // gone
  }
}
