/** Types of second-engine.js (plain JavaScript so that the benchmarks can start the same engine). */
import type Dockerode from 'dockerode';

export interface Pem {
  ca: string;
  cert: string;
  key: string;
}

export interface ExtraEngine {
  name: string;
  /** tcp://10.231.N.2:2376 (TLS), reachable from the host through the veth. */
  address: string;
  /** The engine's Unix socket (same engine, no network in between). */
  socket: string;
  /** Client TLS material the engine trusts. */
  tls: Pem;
  /** Another CA and client certificate: the engine refuses them. */
  wrongTls: Pem;
  /** A client over the Unix socket, for checks that must not depend on the link. */
  docker: Dockerode;
  dir: string;
  netns: string;
  /** Takes the host side of the veth down: a network partition. */
  cut(): void;
  heal(): void;
  /** Kills dockerd (SIGKILL: the engine vanishes as in a crash), its containerd and shims. */
  kill(): Promise<void>;
  /** Stops dockerd as `systemctl stop docker` does (SIGTERM: it stops its containers, then exits). */
  stop(): Promise<void>;
  /** Starts dockerd again on the same data root; resolves once it answers. */
  start(): Promise<void>;
  /** Stops dockerd and removes the namespace, veth and data root. Idempotent. */
  close(): Promise<void>;
}

/** A CA, a server certificate for `ip`, and a client certificate, as PEM files in `dir`. */
export function makeCertificates(dir: string, ip: string, prefix?: string): { ca: string; serverCert: string; serverKey: string; client: Pem };
/** Starts an extra dockerd in a namespace of its own and loads the test image into it. */
export function startExtraEngine(name?: string): Promise<ExtraEngine>;
/** Copies the suite's busybox image from the shared engine (no registry is reachable). */
export function loadTestImage(target: Dockerode, image?: string): Promise<void>;
