/**
 * The shared world of the HTTP API tests: one real Engine and server over three local repositories,
 * and the runs the read-only tests look at, created once and run to completion by the fake executor
 * (each step's `run` names one of PROGRAMS below).
 *
 *   acme/web main  passes: job `build` (a three-line log, two artifacts) → job `test` (needs build)
 *   acme/web dev   fails:  job `lint` exits 3 in its first step; the second step is skipped
 *   acme/api main  passes, three times (one quick job): the runs the pagination tests page through
 *   acme/ops       for the tests that change state; read-only tests never look at its runs
 *     main   one quick job          slow   a job that sleeps (to be cancelled)
 *     mixed  one job passes, one fails (for re-running only the failed one)
 *     push-only   `on:` lists only pushes to main (manual runs still allowed)
 *     no-manual   `on:` opts out of manual runs with `manual: false`
 */
import { randomUUID } from 'node:crypto';
import type { RunDetail } from '../../../shared/model/run.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exits, prints, type StepProgram } from '../../helpers/fake-executor.js';
import { deliver, fixture, type DeliveryAnswer } from '../../trigger/helpers/deliver.js';
import { startApiEngine, type ApiEngine } from './api-engine.js';

export const WEB = 'acme/web';
export const API = 'acme/api';
export const OPS = 'acme/ops';
/** A repository secret's value: must never come out of the API. */
export const SECRET_VALUE = 'ghp-never-shown-0451';
export const WEBHOOK_SECRET = 'hook-secret-7';
export const ARTIFACT_TEXT = 'hello artifact\n';
export const ARTIFACT_HTML = '<script>alert(1)</script>\n';

const pipeline = (jobs: string): string => `name: ci\non:\n  manual: true\njobs:\n${jobs}`;

/** What the steps do, by the program names their `run` gives. */
const PROGRAMS: Record<string, StepProgram> = {
  'compile': prints('compiling', 'error: boom', 'done'),
  'package': (io) => {
    mkdirSync(join(io.workspace, 'dist'), { recursive: true });
    writeFileSync(join(io.workspace, 'dist', 'app résumé.txt'), ARTIFACT_TEXT);
    writeFileSync(join(io.workspace, 'dist', 'page.html'), ARTIFACT_HTML);
    return 0;
  },
  'check': prints('tested'),
  'lint': exits(3, 'lint failed'),
  'after-lint': prints('never'),
  'say-api-ok': prints('api ok'),
  'say-ops-ok': prints('ops ok'),
  'say-started': prints('started'),
  'sleep-120': async (io) => {
    await io.sleep(120_000);
    return io.signal.aborted ? 143 : 0;
  },
  'pass': prints('fine'),
  'fail': exits(1, 'broken'),
};

const WEB_MAIN = pipeline(`  build:
    image: busybox
    artifacts: { paths: ['dist/**'] }
    steps:
      - name: compile
        run: compile
      - name: package
        run: package
  test:
    image: busybox
    needs: [build]
    steps:
      - name: check
        run: check
`);

const WEB_DEV = pipeline(`  lint:
    image: busybox
    steps:
      - name: lint
        run: lint
      - name: after
        run: after-lint
`);

const quick = (program: string): string => pipeline(`  quick:
    image: busybox
    steps:
      - name: say
        run: ${program}
`);

const OPS_SLOW = pipeline(`  wait:
    image: busybox
    steps:
      - name: started
        run: say-started
      - name: sleep
        run: sleep-120
`);

const OPS_PUSH_ONLY = `name: ci\non:\n  push: { branches: [main] }\njobs:\n  quick:\n    image: busybox\n    steps:\n      - name: say\n        run: say-ops-ok\n`;
const OPS_NO_MANUAL = `name: ci\non:\n  push: { branches: [main] }\n  manual: false\njobs:\n  quick:\n    image: busybox\n    steps:\n      - name: say\n        run: say-ops-ok\n`;

const OPS_MIXED = pipeline(`  ok:
    image: busybox
    steps:
      - name: pass
        run: pass
  bad:
    image: busybox
    steps:
      - name: fail
        run: fail
`);

export interface ApiWorld extends ApiEngine {
  /** The finished runs, by what they are for. */
  webMain: RunDetail;
  webDev: RunDetail;
  /** acme/api's runs, oldest first. */
  apiRuns: RunDetail[];
}

export async function startApiWorld(): Promise<ApiWorld> {
  const kiln = await startApiEngine({
    repos: {
      [WEB]: { main: WEB_MAIN, dev: WEB_DEV },
      [API]: { main: quick('say-api-ok') },
      [OPS]: { main: quick('say-ops-ok'), slow: OPS_SLOW, mixed: OPS_MIXED, 'push-only': OPS_PUSH_ONLY, 'no-manual': OPS_NO_MANUAL },
    },
    programs: PROGRAMS,
    configure: (name) => (name === WEB ? { secrets: { DEPLOY_TOKEN: SECRET_VALUE, NPM_TOKEN: SECRET_VALUE }, webhookSecrets: [WEBHOOK_SECRET] } : {}),
    concurrency: { jobs: 4, perRepository: 2 },
  });
  try {
    // Triggered one after another (distinct creation times, so a known order); they run concurrently.
    const ids = [await kiln.trigger(WEB, 'main'), await kiln.trigger(WEB, 'dev')];
    for (let i = 0; i < 3; i++) ids.push(await kiln.trigger(API, 'main'));
    const [webMain, webDev, ...apiRuns] = await Promise.all(ids.map((id) => kiln.waitForRun(id)));
    return { ...kiln, webMain, webDev, apiRuns };
  } catch (err) {
    await kiln.close();
    throw err;
  }
}

/** Sends GitHub's real ping delivery for acme/web, signed with `secret`: the receiver records it and starts nothing. */
export function pingWeb(serverUrl: string, secret = WEBHOOK_SECRET): Promise<DeliveryAnswer> {
  const body = JSON.parse(fixture('github/ping.json').toString('utf8')) as { repository: { full_name: string } };
  body.repository.full_name = WEB;
  return deliver(serverUrl, { event: 'ping', body: JSON.stringify(body), secret, deliveryId: randomUUID() });
}
