/**
 * The fake executor keeps DockerExecutor's contract: the same job (whose `run` texts are real
 * shell and, for the fake, the names of programs that do the same) runs on both, and the results,
 * step summaries and log lines agree, up to durations. This is what lets the HTTP, webhook and IPC
 * tests trust an engine whose jobs run on the fake.
 */
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRunRequest } from '../../src-main/core/job-contract.js';
import { EVENT, harness, job, run, step, type Collected, type Harness } from '../executor/executor-helpers.js';
import { exits, FakeExecutor, prints, type StepProgram } from './fake-executor.js';

/** Real shell → a program that does the same. */
const PROGRAMS: Record<string, StepProgram> = {
  'echo hello; echo world': prints('hello', 'world'),
  'echo lint failed; exit 3': exits(3, 'lint failed'),
  'echo never': prints('never'),
  'echo cleanup': prints('cleanup'),
  'exit 2': exits(2),
  'echo ok': prints('ok'),
  'echo oops >&2': (io) => {
    io.err('oops');
    return 0;
  },
  'echo "token $TOKEN"': (io) => {
    io.out(`token ${io.env.TOKEN}`);
    return 0;
  },
  'sleep 30': async (io) => {
    await io.sleep(30_000);
    return io.signal.aborted ? 143 : 0;
  },
  'echo "GREETING=hi there" >> "$KILN_ENV"': (io) => {
    appendFileSync(io.env.KILN_ENV, 'GREETING=hi there\n');
    return 0;
  },
  'echo "$GREETING"': (io) => {
    io.out(io.env.GREETING ?? '');
    return 0;
  },
  // Ignores SIGTERM (the trap's ignore is inherited by sleep), so only the SIGKILL after the grace period ends it.
  'trap "" TERM; sleep 30': async () => {
    await new Promise((resolve) => setTimeout(resolve, 30_000).unref());
    return 0;
  },
  'cat hello.txt': (io) => {
    io.out(readFileSync(join(io.workspace, 'hello.txt'), 'utf8').trimEnd());
    return 0;
  },
};

/** What must agree: durations and the system lines that report them are made comparable. */
function comparable(c: Collected): unknown {
  const when = (text: string): string => text.replace(/ in [\d.]+ (ms|s)$/, ' in <duration>');
  return {
    result: { ...c.result, steps: c.result.steps.map(({ index, name, status, exitCode }) => ({ index, name, status, exitCode })) },
    lines: c.lines.map((l) => ({ seq: l.seq, stream: l.stream, step: l.step, text: when(l.text) })),
    steps: c.steps.map(({ index, name, status, exitCode }) => ({ index, name, status, exitCode })),
  };
}

describe('the fake executor beside DockerExecutor', () => {
  let h: Harness;
  let fake: FakeExecutor;

  // A grace of 5 s, not 2: on a loaded machine (two test files at a time on 2 cores) Docker took
  // over 2 s to end a `sleep` after SIGTERM, and the Docker side alone then said "sending SIGKILL".
  beforeAll(() => {
    h = harness({ killGraceMs: 5000 });
    fake = new FakeExecutor(PROGRAMS, { killGraceMs: 5000 });
  });
  afterAll(async () => {
    fake.dispose();
    await h.cleanup();
  });

  const both = async (planned: ReturnType<typeof job>, extra: Partial<JobRunRequest> = {}): Promise<[Collected, Collected]> =>
    [await run(h, planned, extra), await run({ ...h, executor: fake as never }, planned, extra)];

  it.each([
    ['a passing job', job([step('echo hello; echo world')])],
    ['a failing step, the steps after it skipped but a failure() one', job([step('echo lint failed; exit 3', { name: 'lint' }), step('echo never'), step('echo cleanup', { if: 'failure()' })])],
    ['continue-on-error', job([step('exit 2', { continueOnError: true }), step('echo ok')])],
    ['stderr', job([step('echo oops >&2')])],
    ['a step timeout', job([step('sleep 30', { timeoutMs: 300 }), step('echo never')])],
    ['a step that ignores SIGTERM, killed after the grace period', job([step('trap "" TERM; sleep 30', { name: 'stubborn', timeoutMs: 300 })])],
  ])('agrees on %s', async (_name, planned) => {
    const [docker, faked] = await both(planned);
    expect(comparable(faked)).toEqual(comparable(docker));
  });

  it('agrees on variables handed on through $KILN_ENV', async () => {
    const [docker, faked] = await both(job([step('echo "GREETING=hi there" >> "$KILN_ENV"', { name: 'set' }), step('echo "$GREETING"', { name: 'get' })]));
    expect(comparable(faked)).toEqual(comparable(docker));
    expect(faked.out(1)).toBe('hi there');
  });

  it('agrees on masked secrets and on a log that continues from logOffset', async () => {
    const planned = job([step('echo "token $TOKEN"')], { secrets: ['TOKEN'] });
    const [docker, faked] = await both(planned, { secrets: { TOKEN: 's3cr3t-value' }, logOffset: 7 });
    expect(comparable(faked)).toEqual(comparable(docker));
    expect(faked.out(0)).toBe('token ***');
  });

  it('agrees on a job cancelled during a step', async () => {
    const planned = job([step('sleep 30', { name: 'wait' })]);
    // Cancelled as soon as the step reports that it runs.
    const cancelled = (executor: Harness['executor']): Promise<Collected> => {
      const abort = new AbortController();
      return run({ ...h, executor }, planned, { signal: abort.signal, onStep: (s) => { if (s.status === 'running') abort.abort(); } });
    };
    const docker = await cancelled(h.executor);
    const faked = await cancelled(fake as never);
    expect([faked.result.status, faked.result.error, faked.result.steps.map((s) => s.status)]).toEqual([docker.result.status, docker.result.error, docker.result.steps.map((s) => s.status)]);
    expect(faked.result.error).toBe("job cancelled during step 'wait'");
  });

  it('checks the source out into the workspace, as the container sees it', async () => {
    const [docker, faked] = await both(job([step('cat hello.txt')]));
    expect(faked.out(0)).toBe('hello from the workspace');
    expect(comparable(faked)).toEqual(comparable(docker));
  });
});

describe('the fake executor', () => {
  it('fails a step whose run names no program with exit code 127, saying so', async () => {
    const fake = new FakeExecutor({});
    const dir = mkdtempSync(join(tmpdir(), 'kiln-fake-src-'));
    try {
      const c = await run({ executor: fake as never, source: { kind: 'dir', path: dir }, dir } as unknown as Harness, job([step('make build', { name: 'build' })]));
      expect(c.result).toMatchObject({ status: 'failed', error: "step 'build' failed with exit code 127" });
      expect(c.out(0)).toMatch(/no program of the fake executor is named 'make build'/);
    } finally {
      fake.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails a step whose program throws with exit code 1, the message on stderr, and leaves no job directory', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kiln-fake-root-'));
    const fake = new FakeExecutor({ boom: () => { throw new Error('kaboom'); } }, { root });
    const dir = mkdtempSync(join(tmpdir(), 'kiln-fake-src-'));
    try {
      const c = await run({ executor: fake as never, source: { kind: 'dir', path: dir }, dir } as unknown as Harness, job([step('boom', { name: 'explode' })]));
      expect(c.result).toMatchObject({ status: 'failed', error: "step 'explode' failed with exit code 1" });
      expect(c.out(0)).toBe('error: kaboom');
      expect(readdirSync(root).filter((name) => name.startsWith('job-'))).toEqual([]);
    } finally {
      fake.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a checkout that fails as an infrastructure failure, not a red build', async () => {
    const fake = new FakeExecutor({ 'echo ok': prints('ok') });
    try {
      const result = await fake.runJob({
        runId: 'r', jobId: 'j', job: job([step('echo ok')]), event: EVENT, secrets: {}, signal: new AbortController().signal, onLog: () => {},
        source: { kind: 'git', url: join(tmpdir(), 'kiln-no-such-repository'), sha: 'a'.repeat(40) },
      });
      expect(result).toMatchObject({ status: 'failed', infrastructure: true });
      expect(result.steps.map((s) => s.status)).toEqual(['skipped']);
    } finally {
      fake.dispose();
    }
  });

  it('gives hooks the workspace as archives named like Docker\'s, and takes archives into it', async () => {
    const fake = new FakeExecutor({ 'echo ok': prints('ok') });
    const dir = mkdtempSync(join(tmpdir(), 'kiln-fake-src-'));
    mkdirSync(join(dir, 'dist'));
    writeFileSync(join(dir, 'dist', 'a.txt'), 'a\n');
    const names: string[] = [];
    try {
      const result = await fake.runJob({
        runId: 'r', jobId: 'j', job: job([step('echo ok')]), event: EVENT, secrets: {}, signal: new AbortController().signal, onLog: () => {},
        source: { kind: 'dir', path: dir },
        hooks: {
          async afterSteps(container) {
            const { Parser } = await import('tar');
            const parser = new Parser({ onReadEntry: (e) => { names.push(e.path); e.resume(); } });
            const archive = await container.getArchive(`${container.workspace}/dist`);
            await new Promise<void>((resolve, reject) => { archive.pipe(parser).on('end', resolve).on('error', reject); });
            await expect(container.getArchive(`${container.workspace}/missing`)).rejects.toThrow(/no such file/);
          },
        },
      });
      expect(result.status).toBe('passed');
      expect(names.sort()).toEqual(['dist/', 'dist/a.txt']);
    } finally {
      fake.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
