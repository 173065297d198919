import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_HEALTHY_IMAGE } from '../../test/helpers/test-image.js';
import { harness, job, leftovers, NONE, run, step } from '../../test/executor/executor-helpers.js';
import type { Harness } from '../../test/executor/executor-helpers.js';

// Services and the job container come up side by side (docker-executor.ts): the steps still wait
// for healthy services, the first failure of either side stops the other, and nothing is left.

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  await h.cleanup();
});

describe('services and the job container coming up together', () => {
  it('prepares the job container while a service becomes healthy, and runs the steps only once it is', async () => {
    // Healthy after ~3 s (the image's healthcheck tests /tmp/ready every second).
    const web = { key: 'web', image: TEST_HEALTHY_IMAGE, env: {}, ports: [], command: ['sh', '-c', 'sleep 3; echo up > /tmp/ready; exec httpd -f -p 8080 -h /tmp'] };
    const r = await run(h, job([step('wget -q -O - http://web:8080/ready')], { services: [web] }));
    expect(r.result.status, r.all()).toBe('passed');
    expect(r.out(0)).toBe('up');
    const system = r.lines.filter((l) => l.stream === 'system').map((l) => l.text);
    const workspaceReady = system.findIndex((t) => t.startsWith('workspace ready'));
    const healthy = system.indexOf('services healthy');
    expect(workspaceReady, system.join('\n')).toBeGreaterThanOrEqual(0);
    expect(workspaceReady).toBeLessThan(healthy);
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('fails at once when the job image cannot be pulled, without waiting for a slow service, and removes everything', async () => {
    // Never healthy: without the stop, the health wait would last the healthcheck's 30 retries.
    const slow = { key: 'slow', image: TEST_HEALTHY_IMAGE, env: {}, ports: [], command: ['sh', '-c', 'while :; do sleep 1; done'] };
    const image = '127.0.0.1:9/kiln-missing/job:1';
    const started = Date.now();
    const r = await run(h, job([step('echo never')], { image, services: [slow] }));
    expect(r.result.status).toBe('failed');
    expect(r.result.infrastructure).toBe(true);
    expect(r.result.error).toContain(`image '${image}' not found locally and could not be pulled from 127.0.0.1:9`);
    expect(r.result.steps[0].status).toBe('skipped');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });
});
