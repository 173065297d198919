import { describe, expect, it } from 'vitest';
import { whyEngineWait, type EngineWaitInput } from './engine-wait.js';

const engine = (name: string, state: EngineWaitInput['state'], extra: Partial<EngineWaitInput> = {}): EngineWaitInput =>
  ({ name, address: `tcp://${name}:2376`, state, ...extra });

describe('why a queued job waits for an engine', () => {
  it.each([
    ['names the only engine and why it is down', [engine('far', 'down', { lastError: 'Docker engine not reachable: getaddrinfo ENOTFOUND far' })], 'far (tcp://far:2376) is not reachable: getaddrinfo ENOTFOUND far'],
    ['names every engine when none answers', [engine('a', 'down'), engine('b', 'starting')], 'a (tcp://a:2376) is not reachable; b (tcp://b:2376) has not answered yet'],
    ['says nothing while any engine is up', [engine('a', 'down'), engine('b', 'up')], undefined],
    ['says nothing without engines', [], undefined],
    ['leaves out an engine that is retiring', [engine('old', 'up', { retiring: 'removed' }), engine('new', 'down')], 'new (tcp://new:2376) is not reachable'],
  ] as const)('%s', (_what, engines, expected) => {
    expect(whyEngineWait(engines)).toBe(expected);
  });
});
