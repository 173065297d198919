/**
 * Job outputs end to end, on the real engine and real Docker: a step writes $KILN_OUTPUT, the job
 * declares outputs:, and the next job reads them in its if: and, as environment only, in its script.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { startEngine, type EngineFixture } from '../engine/engine-fixture.js';

let f: EngineFixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

const PIPELINE = `name: release
jobs:
  build:
    image: ${TEST_IMAGE}
    secrets: [TOKEN]
    outputs:
      version: \${{ steps.ver.outputs.version }}
      notes: \${{ steps.ver.outputs.notes }}
      leaked: \${{ steps.ver.outputs.leaked }}
    steps:
      - id: ver
        run: |
          echo "version=1.2.3" >> "$KILN_OUTPUT"
          printf 'notes<<EOF\\n$(touch /tmp/pwned)\\nsecond line\\nEOF\\n' >> "$KILN_OUTPUT"
          echo "leaked=token is $TOKEN" >> "$KILN_OUTPUT"
  deploy:
    image: ${TEST_IMAGE}
    needs: build
    if: needs.build.outputs.version == '1.2.3'
    env:
      VERSION: \${{ needs.build.outputs.version }}
    steps:
      - run: |
          echo "deploying $VERSION"
          echo "notes: \${{ needs.build.outputs.notes }}"
          echo "leaked: \${{ needs.build.outputs.leaked }}"
          test ! -e /tmp/pwned
  never:
    image: ${TEST_IMAGE}
    needs: build
    if: needs.build.outputs.version == '9.9.9'
    steps:
      - run: echo never
`;

describe('when a job hands outputs to the job that needs it', () => {
  it('decides the if: with them and gives them to the script as environment, never as code', async () => {
    f = await startEngine({ configure: () => ({ secrets: { TOKEN: 'hunter2-secret' } }) });
    const repo = f.repos[0];
    const sha = repo.commit(PIPELINE);
    const { runIds } = await f.engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', sha, ref: 'refs/heads/main' });
    const run = await f.waitForRun(runIds[0], undefined, 90_000);
    const byName = Object.fromEntries(run.jobs.map((j) => [j.name, j]));
    expect(run.status).toBe('passed');
    expect(byName.build.status).toBe('passed');
    expect(byName.deploy.status).toBe('passed');
    expect(byName.never.status).toBe('skipped');

    const log = (await f.engine.getLog(byName.deploy.id, 0)).lines.map((l) => l.text);
    expect(log).toContain('deploying 1.2.3');
    expect(log).toContain('notes: $(touch /tmp/pwned)');
    expect(log).toContain('second line');
    expect(log).toContain('leaked: token is ***');
    expect(log.join('\n')).not.toContain('hunter2-secret');
    const buildLog = (await f.engine.getLog(byName.build.id, 0)).lines.map((l) => l.text);
    expect(buildLog.some((l) => l.startsWith('outputs: version (5 B), notes ('))).toBe(true);
  });
});

const DEPLOY_ONCE_READY = `name: release
jobs:
  build:
    image: ${TEST_IMAGE}
    outputs:
      version: \${{ steps.ver.outputs.version }}
    steps:
      - id: ver
        run: echo "version=4.5.6" >> "$KILN_OUTPUT"
  deploy:
    image: ${TEST_IMAGE}
    needs: build
    secrets: [READY]
    env:
      VERSION: \${{ needs.build.outputs.version }}
    steps:
      - run: |
          echo "deploying '$VERSION'"
          test "$READY" = yes
`;

describe('when only the failed jobs of a run are re-run', () => {
  it('gives the re-run dependants the outputs of the jobs that passed before', async () => {
    f = await startEngine();
    const repo = f.repos[0];
    const sha = repo.commit(DEPLOY_ONCE_READY);
    const { runIds } = await f.engine.handleEvent({ kind: 'push', repo: repo.name, branch: 'main', sha, ref: 'refs/heads/main' });
    const first = await f.waitForRun(runIds[0], undefined, 90_000);
    expect(first.jobs.find((j) => j.name === 'deploy')?.status).toBe('failed');

    await f.engine.saveRepository({ name: repo.name, secrets: { READY: 'yes' } });
    const { runId } = await f.engine.rerun(first.id, { failedOnly: true });
    const again = await f.waitForRun(runId, undefined, 90_000);
    expect(again.status).toBe('passed');
    const deploy = again.jobs.find((j) => j.name === 'deploy')!;
    expect((await f.engine.getLog(deploy.id, 0)).lines.map((l) => l.text)).toContain("deploying '4.5.6'");
  });
});
