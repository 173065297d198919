import { describe, expect, it } from 'vitest';
import type { Health } from '../../shared/api/engine-api.js';
import type { EngineInfo } from '../../shared/model/engine.js';
import { engineTrouble } from './DockerStatus.js';

const engine = (name: string, address: string, state: EngineInfo['state']): EngineInfo => ({ name, address, source: 'kiln.config.yml', state, labels: [], limit: 2, running: [] });
const health = (engines?: EngineInfo[]): Health => ({
  ok: false, version: '0', docker: { ok: false }, tunnel: { state: 'disabled' }, queue: { queued: 0, running: 0 }, ...(engines ? { engines } : {}),
});

describe('what the sidebar says when no engine answers', () => {
  it.each([
    ['the local socket engine is down: Docker, with the start advice', [engine('local', 'unix:///var/run/docker.sock', 'down')], { label: 'Docker unreachable', local: true }],
    ['an answer without engines: Docker on this machine', undefined, { label: 'Docker unreachable', local: true }],
    ['a remote engine is down: that engine by name, no start advice', [engine('far', 'tcp://no-such-host.invalid:2376', 'down')], { label: 'Engine far unreachable', local: false }],
    ['two engines are down: how many, and start advice for the local one', [engine('far', 'ssh://me@far', 'down'), engine('here', 'unix:///run/docker.sock', 'starting')], { label: '2 engines unreachable', local: true }],
  ] as const)('%s', (_what, engines, expected) => {
    expect(engineTrouble(health(engines ? [...engines] : undefined))).toMatchObject(expected);
  });
});
