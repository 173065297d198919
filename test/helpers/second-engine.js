/**
 * A real extra Docker engine for the multi-engine tests: its own dockerd with its own data root,
 * exec root and pid file, in a network namespace of its own joined to the host by a veth pair, and
 * listening on TCP with TLS (a CA, server and client certificates made here with openssl) plus a
 * Unix socket. Cutting the host side of the veth is a real network partition; stopping the dockerd
 * is a real engine loss. The shared engine on /var/run/docker.sock is never touched.
 *
 * dockerd is started with `nsenter --net=…` (only the network namespace changes): `ip netns exec`
 * remounts /sys and dockerd then fails with "Devices cgroup isn't mounted".
 *
 * Each engine gets a namespace, veth and /24 picked from this process's id, so test files running in
 * parallel do not collide. `close()` stops dockerd and removes the namespace, veth and data root.
 * Needs root, iproute2, openssl and dockerd (.ci/run installs them).
 *
 * Plain JavaScript (types in second-engine.d.ts) so that the engine benchmarks start the same engine.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';

/** The suite's busybox image (test-image.ts builds it on the shared engine). */

const TEST_IMAGE = 'kiln-test/busybox:1';

let counter = 0;

function sh(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, a server certificate for `ip`, and a client certificate, as PEM files in `dir`. */

export function makeCertificates(dir, ip, prefix = '') {
  mkdirSync(dir, { recursive: true });
  const f = (n) => `${prefix}${n}`;
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=kiln-test-ca', '-keyout', f('ca-key.pem'), '-out', f('ca.pem')]);
  writeFileSync(join(dir, f('server.ext')), `subjectAltName=IP:${ip},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`);
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${ip}`, '-keyout', f('server-key.pem'), '-out', f('server.csr')]);
  openssl(dir, ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial', '-days', '2', '-extfile', f('server.ext'), '-out', f('server-cert.pem')]);
  writeFileSync(join(dir, f('client.ext')), 'extendedKeyUsage=clientAuth\n');
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=kiln-client', '-keyout', f('key.pem'), '-out', f('client.csr')]);
  openssl(dir, ['x509', '-req', '-in', f('client.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial', '-days', '2', '-extfile', f('client.ext'), '-out', f('cert.pem')]);
  const read = (n) => readFileSync(join(dir, f(n)), 'utf8');
  return { ca: join(dir, f('ca.pem')), serverCert: join(dir, f('server-cert.pem')), serverKey: join(dir, f('server-key.pem')), client: { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') } };
}

/** A third octet no other live test engine uses: from the pid, skipping subnets already on an interface. */

function freeSubnet() {
  const used = sh('ip', ['-o', '-4', 'addr', 'show']);
  for (let i = 0; i < 200; i++) {
    const k = 10 + ((process.pid * 7 + counter * 13 + i) % 240);
    if (!used.includes(`10.231.${k}.`))
      return k;
  }
  throw new Error('no free 10.231.x.0/24 subnet for a test engine');
}

async function waitForPing(docker, ms, log) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await docker.ping();
      return;
    } catch (err) {
      if (Date.now() > until)
        throw new Error(`the test dockerd did not answer within ${ms / 1000} s (${String(err)}); log tail:\n${readLog(log)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

function readLog(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts an extra dockerd in a namespace of its own and loads the test image into it. */

export async function startExtraEngine(name = 'second') {
  counter++;
  const k = freeSubnet();
  const id = `${process.pid % 100000}${counter}`;
  const netns = `kiln-e${id}`;
  const hostVeth = `kvh${id}`.slice(0, 15);
  const nsVeth = `kvn${id}`.slice(0, 15);
  const hostIp = `10.231.${k}.1`;
  const ip = `10.231.${k}.2`;
  const dir = mkdtempSync(join(tmpdir(), `kiln-engine-${name}-`));
  const certs = makeCertificates(join(dir, 'certs'), ip);
  const wrong = makeCertificates(join(dir, 'wrong'), ip, 'wrong-');
  const socket = join(dir, 'docker.sock');
  const log = join(dir, 'dockerd.log');
  let child;
  const teardownNet = () => {
    try { sh('ip', ['link', 'del', hostVeth]); } catch { /* gone with the namespace */ }
    try { sh('ip', ['netns', 'del', netns]); } catch { /* never made */ }
  };
  sh('ip', ['netns', 'add', netns]);
  try {
    sh('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', nsVeth]);
    sh('ip', ['link', 'set', nsVeth, 'netns', netns]);
    sh('ip', ['addr', 'add', `${hostIp}/24`, 'dev', hostVeth]);
    sh('ip', ['link', 'set', hostVeth, 'up']);
    const inNs = (args) => sh('nsenter', [`--net=/var/run/netns/${netns}`, 'ip', ...args]);
    inNs(['addr', 'add', `${ip}/24`, 'dev', nsVeth]);
    inNs(['link', 'set', nsVeth, 'up']);
    inNs(['link', 'set', 'lo', 'up']);
    inNs(['route', 'add', 'default', 'via', hostIp]);
  } catch (err) {
    teardownNet();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const start = async () => {
    // After a kill: dockerd would dial the dead containerd's socket named in its leftover pid file.
    for (const stale of ['exec/containerd/containerd.pid', 'exec/containerd/containerd.sock', 'exec/containerd/containerd.sock.ttrpc', 'docker.pid']) {
      rmSync(join(dir, stale), { force: true });
    }
    const out = openSync(log, 'a');
    child = spawn('nsenter', [
      `--net=/var/run/netns/${netns}`, 'dockerd',
      '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'docker.pid'),
      '-H', `unix://${socket}`, '-H', `tcp://${ip}:2376`,
      '--tlsverify', '--tlscacert', certs.ca, '--tlscert', certs.serverCert, '--tlskey', certs.serverKey,
      '--storage-driver', 'overlay2', '--bip', '172.31.254.1/24', '--default-address-pool', 'base=172.30.0.0/16,size=24',
    ], { stdio: ['ignore', out, out], detached: true });
    child.unref();
    await waitForPing(new Dockerode({ socketPath: socket }), 60_000, log);
  };
  const stopDaemon = async (signal) => {
    const pidFile = join(dir, 'docker.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : child?.pid;
    const c = child;
    child = undefined;
    if (!pid)
      return;
    try { process.kill(pid, signal); } catch {
      return;
    }
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      try { process.kill(pid, 0); } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    // dockerd's own containerd and its shims can outlive dockerd: end them, by pid, so that a
    // restart starts clean and close() leaves nothing running.
    for (const other of processesMentioning(dir)) {
      try { process.kill(other, 'SIGKILL'); } catch { /* gone */ }
    }
    void c;
  };
  try {
    await start();
    const docker = new Dockerode({ socketPath: socket });
    await loadTestImage(docker);
    let closed = false;
    return {
      name, address: `tcp://${ip}:2376`, socket, tls: certs.client, wrongTls: wrong.client, docker, dir, netns,
      cut: () => sh('ip', ['link', 'set', hostVeth, 'down']),
      heal: () => sh('ip', ['link', 'set', hostVeth, 'up']),
      kill: () => stopDaemon('SIGKILL'),
      stop: () => stopDaemon('SIGTERM'),
      start,
      close: async () => {
        if (closed)
          return;
        closed = true;
        await stopDaemon('SIGTERM');
        teardownNet();
        // Overlay mounts under the data root must go before the folder can.
        try { sh('sh', ['-c', `grep -o '${dir}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`]); } catch { /* none */ }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopDaemon('SIGKILL');
    teardownNet();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Pids of processes whose command line names `dir` (this engine's containerd and shims). */

function processesMentioning(dir) {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid)
      continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir))
        out.push(Number(entry));
    } catch { /* exited */ }
  }
  return out;
}

/** Copies the suite's busybox image from the shared engine (no registry is reachable). */

export async function loadTestImage(target, image = TEST_IMAGE) {
  const source = new Dockerode();
  const tar = await source.getImage(image).get();
  const stream = await target.loadImage(tar);
  await new Promise((resolve, reject) => target.modem.followProgress(stream, (err) => (err ? reject(err) : resolve())));
}
