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
