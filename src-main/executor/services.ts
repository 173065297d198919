/**
 * Sidecar services: a per-job bridge network, one container per service with the service key as
 * its network alias (so `db` resolves to the `db` service), started before the job container, and
 * awaited until healthy when the image declares a HEALTHCHECK. The caller removes everything
 * registered through `track` (network and containers) in its teardown.
 *
 * Ports: a service's ports are reachable from the job on the job network. `HOST:CONTAINER`
 * entries are additionally published on 127.0.0.1:HOST for debugging (they can collide between
 * parallel jobs, so pipelines should rarely need them).
 */
import type Dockerode from 'dockerode';
import type { PlannedService } from '../../shared/model/plan.js';
import { dockerMessage, kilnLabels, resourceName } from './containers.js';
import { ensureImage, InfrastructureError } from './pull.js';

export interface ServiceContext {
  docker: Dockerode;
  instanceId: string;
  runId: string;
  /** The stored job's id: the kiln.job label, by which the reaper asks whether the job still runs. */
  jobId: string;
  /** The planned job's id (`build`, `test-linux`): readable resource names. */
  jobKey: string;
  suffix: string;
  log(text: string): void;
  signal: AbortSignal;
  /** Registers a resource for teardown the moment it exists. */
  track(kind: 'container' | 'network', id: string): void;
}

/** How long a service may take to become healthy. */
const HEALTH_TIMEOUT_MS = 120_000;

export async function createJobNetwork(ctx: ServiceContext): Promise<string> {
  const name = resourceName([ctx.runId, ctx.jobKey], ctx.suffix);
  const network = await ctx.docker.createNetwork({
    Name: name,
    Driver: 'bridge',
    CheckDuplicate: true,
    Labels: kilnLabels(ctx.instanceId, ctx.runId, ctx.jobId, 'job'),
  });
  ctx.track('network', network.id);
  return name;
}

function portConfig(ports: string[]): { exposed: Record<string, object>; bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> } {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const spec of ports) {
    const [left, right] = spec.split(':');
    const containerPort = (right ?? left).includes('/') ? (right ?? left) : `${right ?? left}/tcp`;
    exposed[containerPort] = {};
    if (right !== undefined) bindings[containerPort] = [{ HostIp: '127.0.0.1', HostPort: left }];
  }
  return { exposed, bindings };
}

async function lastLogLines(container: Dockerode.Container): Promise<string[]> {
  try {
    const raw = (await container.logs({ stdout: true, stderr: true, tail: 20, follow: false })) as unknown as Buffer;
    // Non-TTY logs are multiplexed: strip the 8-byte frame headers.
    const lines: string[] = [];
    let pos = 0;
    let text = '';
    while (pos + 8 <= raw.length) {
      const size = raw.readUInt32BE(pos + 4);
      text += raw.subarray(pos + 8, pos + 8 + size).toString('utf8');
      pos += 8 + size;
    }
    for (const line of text.split('\n')) if (line.trim()) lines.push(line);
    return lines;
  } catch {
    return [];
  }
}

async function waitHealthy(service: PlannedService, container: Dockerode.Container, ctx: ServiceContext, hasHealthcheck: boolean): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  for (;;) {
    if (ctx.signal.aborted) throw new InfrastructureError(`service '${service.key}' did not start: the job was stopped`);
    const info = await container.inspect();
    const state = info.State;
    if (!state.Running) {
      for (const line of await lastLogLines(container)) ctx.log(`[${service.key}] ${line}`);
      throw new InfrastructureError(`service '${service.key}' (${service.image}) exited with code ${state.ExitCode} before the job started`);
    }
    if (!hasHealthcheck) return;
    const health = state.Health?.Status;
    if (health === 'healthy') return;
    if (health === 'unhealthy') {
      for (const line of await lastLogLines(container)) ctx.log(`[${service.key}] ${line}`);
      throw new InfrastructureError(`service '${service.key}' (${service.image}) is unhealthy`);
    }
    if (Date.now() > deadline) throw new InfrastructureError(`service '${service.key}' (${service.image}) was not healthy after ${HEALTH_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts every service on `network` and waits until each is running (and healthy, if it can say). */
export async function startServices(services: PlannedService[], network: string, ctx: ServiceContext): Promise<void> {
  const started: Array<{ service: PlannedService; container: Dockerode.Container; hasHealthcheck: boolean }> = [];
  for (const service of services) {
    await ensureImage(ctx.docker, service.image, ctx.log, ctx.signal);
    const image = await ctx.docker.getImage(service.image).inspect();
    const healthcheck = image.Config?.Healthcheck?.Test;
    const hasHealthcheck = Array.isArray(healthcheck) && healthcheck.length > 0 && healthcheck[0] !== 'NONE';
    const { exposed, bindings } = portConfig(service.ports);
    let container: Dockerode.Container;
    try {
      container = await ctx.docker.createContainer({
        name: resourceName([ctx.runId, ctx.jobKey, service.key], ctx.suffix),
        Image: service.image,
        Env: Object.entries(service.env).map(([k, v]) => `${k}=${v}`),
        Cmd: service.command && service.command.length > 0 ? service.command : undefined,
        Labels: { ...kilnLabels(ctx.instanceId, ctx.runId, ctx.jobId, 'service'), 'kiln.service': service.key },
        ExposedPorts: exposed,
        HostConfig: { NetworkMode: network, PortBindings: bindings },
        NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: [service.key] } } },
      });
    } catch (err) {
      throw new InfrastructureError(`service '${service.key}' could not be created: ${dockerMessage(err)}`);
    }
    ctx.track('container', container.id);
    try {
      await container.start();
    } catch (err) {
      throw new InfrastructureError(`service '${service.key}' could not be started: ${dockerMessage(err)}`);
    }
    ctx.log(`service ${service.key} (${service.image}) started${hasHealthcheck ? ', waiting until healthy' : ''}`);
    started.push({ service, container, hasHealthcheck });
  }
  // Services start in parallel; their health is awaited together.
  await Promise.all(started.map((s) => waitHealthy(s.service, s.container, ctx, s.hasHealthcheck)));
  if (started.some((s) => s.hasHealthcheck)) ctx.log('services healthy');
}
