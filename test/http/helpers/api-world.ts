/**
 * The shared world of the HTTP API tests: one real Engine and server over three local repositories,
 * and the runs the read-only tests look at, created once and run to completion by Docker.
 *
 *   acme/web main  passes: job `build` (a three-line log, two artifacts) → job `test` (needs build)
 *   acme/web dev   fails:  job `lint` exits 3 in its first step; the second step is skipped
 *   acme/api main  passes, three times (one quick job): the runs the pagination tests page through
 *   acme/ops       for the tests that change state; read-only tests never look at its runs
 *     main   one quick job          slow   a job that sleeps (to be cancelled)
 *     mixed  one job passes, one fails (for re-running only the failed one)
 */
import { randomUUID } from 'node:crypto';
import type { RunDetail } from '../../../shared/model/run.js';
import { TEST_IMAGE } from '../../helpers/test-image.js';
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

const WEB_MAIN = pipeline(`  build:
    image: ${TEST_IMAGE}
    artifacts: { paths: ['dist/**'] }
    steps:
      - name: compile
        run: |
          echo compiling
          echo "error: boom"
          echo done
      - name: package
        run: |
          mkdir -p dist
          printf 'hello artifact\\n' > "dist/app résumé.txt"
          printf '<script>alert(1)</script>\\n' > dist/page.html
  test:
    image: ${TEST_IMAGE}
    needs: [build]
    steps:
      - name: check
        run: echo tested
`);

const WEB_DEV = pipeline(`  lint:
    image: ${TEST_IMAGE}
    steps:
      - name: lint
        run: echo "lint failed"; exit 3
      - name: after
        run: echo never
`);

const quick = (text: string): string => pipeline(`  quick:
    image: ${TEST_IMAGE}
    steps:
      - name: say
        run: echo "${text}"
`);

const OPS_SLOW = pipeline(`  wait:
    image: ${TEST_IMAGE}
    steps:
      - name: started
        run: echo started
      - name: sleep
        run: sleep 120
`);

const OPS_MIXED = pipeline(`  ok:
    image: ${TEST_IMAGE}
    steps:
      - name: pass
        run: echo fine
  bad:
    image: ${TEST_IMAGE}
    steps:
      - name: fail
        run: echo broken; exit 1
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
      [API]: { main: quick('api ok') },
      [OPS]: { main: quick('ops ok'), slow: OPS_SLOW, mixed: OPS_MIXED },
    },
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
