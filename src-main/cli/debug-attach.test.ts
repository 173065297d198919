import { PassThrough } from 'node:stream';
import type Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import type { KeptJob } from '../core/job-contract.js';
import { terminalAttach } from './debug-attach.js';

function kept(): KeptJob {
  return { containerId: 'c0ffee', jobKey: 'j1', workspace: '/workspace', envFile: '/kiln/debug-env', step: { index: 1, name: 'Break' }, rerunStep: () => Promise.resolve(0) };
}

/** A terminal stand-in: what kiln writes to it, as text. */
function terminal(): { stdin: NodeJS.ReadStream; stdout: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const stdout = new PassThrough() as unknown as NodeJS.WriteStream;
  stdout.on('data', (c: Buffer) => { text += c.toString(); });
  return { stdin: new PassThrough() as unknown as NodeJS.ReadStream, stdout, text: () => text };
}

describe('kiln run --debug when the debug shell cannot open', () => {
  it('says why in one line, lets the teardown go on and prints what other jobs printed meanwhile and later', async () => {
    const t = terminal();
    let printDuringOpen: () => void = () => undefined;
    const attach = terminalAttach({} as Dockerode, t.stdin, t.stdout, () => {
      printDuringOpen();
      return Promise.reject(new Error('container c0ffee is not running'));
    });
    printDuringOpen = () => attach.print('other job: held line\n');
    const verdict = await attach.jobDebug('build').hold(kept(), new AbortController().signal);
    expect(verdict).toBe('remove');
    attach.print('other job: later line\n');
    const lines = t.text().split('\n');
    const reason = lines.filter((l) => l.includes('cannot open a shell'));
    expect(reason).toEqual(["kiln run: cannot open a shell in the container of job 'build' (container c0ffee is not running); tearing the job down"]);
    expect(t.text()).toContain('other job: held line\n');
    expect(t.text().endsWith('other job: later line\n')).toBe(true);
  });

  it('opens the next failing job its turn after a shell that could not open', async () => {
    const t = terminal();
    let calls = 0;
    const attach = terminalAttach({} as Dockerode, t.stdin, t.stdout, () => {
      calls += 1;
      return Promise.reject(new Error(`refused ${calls}`));
    });
    const signal = new AbortController().signal;
    const both = await Promise.all([attach.jobDebug('a').hold(kept(), signal), attach.jobDebug('b').hold(kept(), signal)]);
    expect(both).toEqual(['remove', 'remove']);
    expect(t.text()).toContain("job 'a' (refused 1)");
    expect(t.text()).toContain("job 'b' (refused 2)");
    attach.print('after\n');
    expect(t.text().endsWith('after\n')).toBe(true);
  });
});
