import { describe, expect, it } from 'vitest';
import { elapsed, formatBytes, formatDuration, formatPeriod, relativeTime, shortSha } from './format.js';

describe('formatDuration', () => {
  it.each([[undefined, '—'], [350, '350 ms'], [12_400, '12s'], [125_000, '2m 05s'], [3_720_000, '1h 02m']])('%s ms reads %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('formatBytes', () => {
  it.each([[512, '512 B'], [1536, '1.5 KB'], [50 * 1024 * 1024, '50 MB']])('%s bytes reads %s', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });
});

describe('relativeTime', () => {
  it('says minutes ago for a run from five minutes back', () => {
    expect(relativeTime(1_000_000 - 300_000, 1_000_000)).toBe('5 min ago');
  });
});

describe('elapsed', () => {
  it('counts a running job up to now', () => {
    expect(elapsed({ startedAt: 1000 }, 4000)).toBe(3000);
  });
  it('prefers the recorded duration', () => {
    expect(elapsed({ startedAt: 1000, durationMs: 5 }, 4000)).toBe(5);
  });
});

it('shortSha keeps seven characters', () => {
  expect(shortSha('0123456789abcdef')).toBe('0123456');
});

describe('formatPeriod', () => {
  it.each([[30 * 86_400_000, '30 days'], [86_400_000, '1 day'], [24 * 3_600_000, '1 day'], [6 * 3_600_000, '6 hours'], [90_000, '1m 30s']])('%s ms reads %s', (ms, text) => {
    expect(formatPeriod(ms)).toBe(text);
  });
});
