import { describe, expect, it } from 'vitest';
import { parseDf } from './docker-step-runner.js';

describe('parseDf (busybox and GNU `df -Pk /` inside a job container)', () => {
  it.each([
    ['busybox, full', 'Filesystem           1024-blocks    Used Available Capacity Mounted on\noverlay                 163840    163840         0 100% /\n', { freeBytes: 0, totalBytes: 163840 * 1024 }],
    ['GNU coreutils', 'Filesystem     1024-blocks     Used Available Capacity Mounted on\noverlay          263112772 24573956 225060460      10% /\n', { freeBytes: 225060460 * 1024, totalBytes: 263112772 * 1024 }],
    ['no data line', 'Filesystem 1024-blocks Used Available Capacity Mounted on\n', undefined],
    ['an error message', 'df: /: No such file or directory\n', undefined],
    ['nothing', '', undefined],
  ])('%s', (_name, text, expected) => {
    expect(parseDf(text)).toEqual(expected);
  });
});
