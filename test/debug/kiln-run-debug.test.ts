/**
 * `kiln run --debug` in a real pseudo-terminal (tmux): the failing step turns the terminal into a
 * shell in the job's container — its environment, its service by name, raw mode (Ctrl-C reaches
 * the shell's command, not kiln), the window's size — and exiting the shell tears the job down.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { TEST_IMAGE } from '../helpers/test-image.js';
import { FAILING_PIPELINE } from './debug-fixture.js';

// Beside the failing job: one that passes while the failed job's shell owns the terminal, and one
// skipped then (it runs only on a failure). The passing one ends when the test says so (a file it
// waits for, put there with docker exec), at most two minutes after it starts.
const PIPELINE = `${FAILING_PIPELINE}  quick:
    image: ${TEST_IMAGE}
    steps:
      - run: for i in $(seq 1200); do [ -f /tmp/go ] && break; sleep 0.1; done; echo "quick-$((1+1))-done"
  notify:
    needs: [quick]
    if: failure()
    image: ${TEST_IMAGE}
    steps:
      - run: echo notified
`;

const KILN = resolve('bin/kiln.js');
const SESSION = `kiln-debug-${process.pid}`;

const tmux = (...args: string[]): string => execFileSync('tmux', args, { encoding: 'utf8' });
const docker = (...args: string[]): string => execFileSync('docker', args, { encoding: 'utf8' }).trim();
const screen = (): string => tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', SESSION);

async function waitForScreen(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = screen();
    const m = pattern.exec(text);
    if (m) return m[0];
    if (Date.now() > deadline) throw new Error(`the terminal never showed ${String(pattern)}; it shows:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The running container of `job` of the `kiln run` in the pane ('' when there is none): labelled
 * kiln.instance=cli-<its pid>-…, which tells it from another `kiln run`'s job of the same name.
 */
function jobContainer(job: string): string {
  const pane = tmux('display-message', '-p', '-t', SESSION, '#{pane_pid}').trim();
  const kiln = execFileSync('pgrep', ['-P', pane, '-f', 'kiln.js'], { encoding: 'utf8' }).trim();
  const rows = docker('ps', '--filter', `label=kiln.job=${job}`, '--filter', 'label=kiln.role=job', '--format', '{{.ID}} {{.Label "kiln.instance"}}');
  return rows.split('\n').map((row) => row.split(' ')).find(([, instance]) => instance?.startsWith(`cli-${kiln}-`))?.[0] ?? '';
}

/** Types a line into the pane (literally, then Enter). */
function typeLine(text: string): void {
  tmux('send-keys', '-t', SESSION, '-l', text);
  tmux('send-keys', '-t', SESSION, 'Enter');
}

describe('kiln run --debug in a terminal', () => {
  let dir: string;
  /** The failed job's container. */
  let buildContainer = '';

  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'kiln-run-debug-'));
    writeFileSync(join(dir, '.kiln.yml'), PIPELINE);
    const command = `cd ${dir} && DEPLOY_TOKEN=s3cret-value node ${KILN} run --debug --secret DEPLOY_TOKEN; echo "KILN-EXIT=$?"; sleep 600`;
    tmux('new-session', '-d', '-s', SESSION, '-x', '100', '-y', '30', command);
  });

  afterAll(() => {
    try { tmux('kill-session', '-t', SESSION); } catch { /* already gone */ }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('becomes a shell in the failed job container at the failing step', async () => {
    await waitForScreen(/this terminal is now a shell in its container/, 120_000);
    await waitForScreen(/\/workspace # $/m);
    typeLine('echo "v=$SOME_VAR p=$PARTIAL"; ls');
    await waitForScreen(/v=from-kiln-env p=set-before-failing\s+marker\.txt/);
    typeLine('wget -q -O /dev/null http://web:8080/ready && echo "svc-$((40+2))"');
    await waitForScreen(/^svc-42$/m);
    expect(screen()).toContain('[build › Break] token is ***');
    expect(screen()).not.toContain('s3cret-value');
  });

  it('holds back the other jobs\' lines, the skipped one too, while the shell owns the terminal', async () => {
    const quick = jobContainer('quick');
    if (!quick) throw new Error('job quick ended before the shell opened: this test cannot tell held lines from printed ones');
    buildContainer = jobContainer('build'); // for the Ctrl-C case below
    expect(buildContainer).toMatch(/^[0-9a-f]{12}$/);
    docker('exec', quick, 'touch', '/tmp/go');
    for (const deadline = Date.now() + 60_000; docker('ps', '-q', '--filter', `id=${quick}`) !== '';) {
      if (Date.now() > deadline) throw new Error('job quick never ended');
      await new Promise((r) => setTimeout(r, 100));
    }
    // quick passed, so notify is skipped about now: its line would be on the screen within a moment.
    await new Promise((r) => setTimeout(r, 1500));
    expect(screen()).not.toMatch(/\[notify\] skipped/);
    expect(screen()).not.toContain('quick-2-done');
  });

  it('sends Ctrl-C to the command in the container, not to kiln', async () => {
    typeLine('sleep 300; echo "slept-$((1+1))"');
    // Ctrl-C once the sleep runs in the container (not while the shell still reads the line).
    for (const deadline = Date.now() + 10_000; !/sleep 300/.test(docker('top', buildContainer));) {
      if (Date.now() > deadline) throw new Error('the sleep never started in the container');
      await new Promise((r) => setTimeout(r, 100));
    }
    tmux('send-keys', '-t', SESSION, 'C-c');
    typeLine('echo "alive-$((2+3))"');
    await waitForScreen(/^alive-5$/m, 10_000);
    expect(screen()).not.toContain('slept-2');
    expect(screen()).not.toContain('cancelling');
  });

  it('follows the terminal size', async () => {
    typeLine('stty size');
    await waitForScreen(/^30 100$/m);
    tmux('resize-window', '-t', SESSION, '-x', '120', '-y', '40');
    // The new size reaches the shell a moment later: ask until it answers with it.
    for (let attempt = 1; ; attempt++) {
      typeLine('clear; stty size');
      const last = attempt === 5;
      try {
        await waitForScreen(/^40 120$/m, last ? 60_000 : 400);
        break;
      } catch (err) {
        if (last) throw err;
      }
    }
  });

  it('continues the teardown when the shell exits: the container goes, kiln exits 1', async () => {
    typeLine('clear; echo "id=$(hostname)"');
    const id = (await waitForScreen(/^id=[0-9a-f]{12}$/m)).slice(3);
    expect(execFileSync('docker', ['ps', '-q', '--filter', `id=${id}`], { encoding: 'utf8' }).trim()).not.toBe('');
    typeLine('exit');
    await waitForScreen(/KILN-EXIT=1/, 60_000);
    expect(screen()).toMatch(/build\s+failed/);
    expect(screen()).toMatch(/\[notify\] skipped/);
    expect(screen()).toContain('quick-2-done');
    expect(execFileSync('docker', ['ps', '-aq', '--filter', `id=${id}`], { encoding: 'utf8' }).trim()).toBe('');
  });
});
