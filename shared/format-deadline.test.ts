import { describe, expect, it } from 'vitest';
import { formatClock, formatDeadline } from './format.js';

describe('a deadline in a log line', () => {
  it('reads as a span and a local clock time with the zone, never a raw ISO instant', () => {
    const at = Date.parse('2026-12-07T08:18:07.173Z');
    const d = new Date(at);
    const hhmm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
    expect(formatClock(at)).toMatch(new RegExp(`^${hhmm} UTC([+-]\\d\\d:\\d\\d)?$`));
    expect(formatDeadline(at, at - 30 * 60_000)).toBe(`in 30 min (${formatClock(at)})`);
    expect(formatDeadline(at, at - 125 * 60_000)).toBe(`in 2 h 5 min (${formatClock(at)})`);
    expect(formatDeadline(at, at - 10_000)).toBe(`in under a minute (${formatClock(at)})`);
    expect(formatDeadline(at, at)).not.toContain('2026-12-07T');
  });

});
