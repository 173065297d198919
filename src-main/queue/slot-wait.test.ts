import { describe, expect, it } from 'vitest';
import { whySlotWait } from './slot-wait.js';

const limits = { jobs: 4, perRepository: 1 };

describe('why a queued job waits for a slot', () => {
  it.each([
    {
      why: 'its repository\'s only slot is held by a job kept for debugging',
      holders: [{ repo: 'acme/web', holding: 1, kept: 1 }],
      says: 'acme/web is at its per-repository limit (1): 1 job kept for debug',
    },
    {
      why: 'its repository\'s slot is held by a running job',
      holders: [{ repo: 'acme/web', holding: 1, kept: 0 }],
      says: 'acme/web is at its per-repository limit (1): 1 job running',
    },
    {
      why: 'every job slot is taken, some by kept jobs',
      holders: [{ repo: 'acme/api', holding: 3, kept: 1 }, { repo: 'acme/docs', holding: 1, kept: 1 }],
      limits: { jobs: 4, perRepository: 4 },
      says: 'Kiln is at its job limit (4): 2 jobs running, 2 jobs kept for debug',
    },
    {
      why: 'another repository is at its limit, not this one, and slots are free',
      holders: [{ repo: 'acme/api', holding: 1, kept: 1 }],
      says: undefined,
    },
    { why: 'nothing holds a slot', holders: [], says: undefined },
  ])('says so when $why', ({ holders, says, ...rest }) => {
    expect(whySlotWait({ repo: 'acme/web', limits: rest.limits ?? limits, holders })).toBe(says);
  });
});
