/**
 * A second, real dockerd whose storage (--data-root) is a tmpfs of a few hundred megabytes mounted
 * here, so that "no space left on device" in a container, or on a container create, comes from
 * the kernel under a real engine. The shared engine is never touched: this one has its own exec
 * root, pid file and Unix socket, no bridge and no iptables rules (its containers get loopback
 * only). It runs in an empty network namespace of its own all the same: a dockerd started with
 * `--bridge none` deletes any interface named docker0 it sees — the shared engine's bridge, in
 * the host's namespace. The suite's test image is loaded into it. Needs root, iproute2 and dockerd.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { loadTestImage } from './second-engine.js';

export interface SmallDockerEngine {
  /** unix:///…/docker.sock */
  address: string;
  docker: Dockerode;
  /** The engine's data root: the tmpfs. */
  dataRoot: string;
  /** The engine's network namespace (`ip netns` name): a server it must reach (a registry) runs there. */
  netns: string;
  /** Free bytes of the data root now. */
  free(): number;
  close(): Promise<void>;
}

let counter = 0;

export async function startSmallDockerEngine(size: string): Promise<SmallDockerEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-dk-'));
  const dataRoot = join(dir, 'data');
  mkdirSync(dataRoot);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dataRoot]);
  const socket = join(dir, 'docker.sock');
  const pidFile = join(dir, 'docker.pid');
  const log = join(dir, 'dockerd.log');
  const netns = `kiln-dk${process.pid % 100000}${++counter}`;
  execFileSync('ip', ['netns', 'add', netns]);
  // `ip netns exec` would remount /sys (dockerd then finds no cgroups): nsenter changes the network namespace only.
  const child = spawn('nsenter', [`--net=/var/run/netns/${netns}`, 'dockerd',
    '--data-root', dataRoot, '--exec-root', join(dir, 'exec'), '--pidfile', pidFile, '-H', `unix://${socket}`,
    '--bridge', 'none', '--iptables=false', '--storage-driver', 'overlay2',
  ], { stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')], detached: true });
  child.unref();
  const docker = new Dockerode({ socketPath: socket });
  const close = async (): Promise<void> => {
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : child.pid;
    if (pid) {
      try {
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 200; i++) {
          process.kill(pid, 0);
          await new Promise((r) => setTimeout(r, 100));
        }
      } catch {
        // exited
      }
    }
    // Its containerd and shims, by pid (their command lines name this folder).
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) process.kill(Number(entry), 'SIGKILL');
      } catch {
        // exited
      }
    }
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m?.startsWith(dir));
    for (const m of mounts.sort().reverse()) {
      try {
        execFileSync('umount', ['-l', m]);
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
    try {
      execFileSync('ip', ['netns', 'del', netns]);
    } catch {
      // gone
    }
  };
  try {
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        await docker.ping();
        break;
      } catch (err) {
        if (Date.now() > until) throw new Error(`the small dockerd did not answer within 60 s (${String(err)}): ${readFileSync(log, 'utf8').slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    await loadTestImage(docker);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    address: `unix://${socket}`, docker, dataRoot, netns,
    free: () => {
      const s = statfsSync(dataRoot);
      return s.bavail * s.bsize;
    },
    close,
  };
}
