import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TEST_HEALTHY_IMAGE, TEST_IMAGE } from '../helpers/test-image.js';
import { harness, job, leftovers, NONE, run, step } from './executor-helpers.js';
import type { Harness } from './executor-helpers.js';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  await h.cleanup();
});

describe('services', () => {
  it('waits until a service with a healthcheck is healthy, reaches it by its key, and removes it after', async () => {
    const r = await run(
      h,
      job([step('echo served > /dev/null; wget -q -O - http://web:8080/ready && echo "status=$?"; echo | nc -w 2 web 8080 >/dev/null && echo port-open')], {
        services: [{ key: 'web', image: TEST_HEALTHY_IMAGE, env: {}, ports: [] }],
      }),
    );
    expect(r.result.status, r.all()).toBe('passed');
    expect(r.out(0)).toBe('status=0\nport-open');
    expect(r.all()).toContain('services healthy');
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('passes env and command to a service without a healthcheck', async () => {
    const r = await run(
      h,
      job([step('for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://api:9090/greeting && exit 0; sleep 0.3; done; exit 1')], {
        services: [{ key: 'api', image: TEST_IMAGE, env: { GREETING: 'hello-from-service' }, ports: ['9090'], command: ['sh', '-c', 'echo "$GREETING" > /tmp/greeting; exec httpd -f -p 9090 -h /tmp'] }],
      }),
    );
    expect(r.result.status, r.all()).toBe('passed');
    expect(r.out(0)).toBe('hello-from-service');
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('fails the job as an infrastructure error when a service exits before it is healthy', async () => {
    const r = await run(
      h,
      job([step('echo never')], {
        services: [{ key: 'db', image: TEST_HEALTHY_IMAGE, env: {}, ports: [], command: ['sh', '-c', 'echo database crashed; exit 4'] }],
      }),
    );
    expect(r.result.status).toBe('failed');
    expect(r.result.infrastructure).toBe(true);
    expect(r.result.error).toMatch(/service 'db' .* exited with code 4/);
    expect(r.all()).toContain('[db] database crashed');
    expect(r.result.steps[0].status).toBe('skipped');
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });

  it('fails the job as an infrastructure error when a service cannot start', async () => {
    const r = await run(h, job([step('echo never')], { services: [{ key: 'cache', image: TEST_IMAGE, env: {}, ports: [], command: ['/no/such/binary'] }] }));
    expect(r.result.status).toBe('failed');
    expect(r.result.infrastructure).toBe(true);
    expect(r.result.error).toMatch(/service 'cache' could not be started: .*no\/such\/binary/);
    expect(await leftovers(h.instanceId)).toEqual(NONE);
  });
});
