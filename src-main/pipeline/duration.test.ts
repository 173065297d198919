import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['1h30m', 5_400_000],
    ['1h', 3_600_000],
    ['2m5s', 125_000],
    ['30d', 30 * 86_400_000],
    [' 5m ', 300_000],
  ])('%j is %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '0s', '15', 'm', '1.5h', '30m1h', '5 m', '1h1h', '-5m', '15min'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
