import { describe, expect, it } from 'vitest';
import { RunCounter, trayTooltip } from './run-counter.js';

describe('RunCounter', () => {
  it('counts runs while they run and forgets them when they finish', () => {
    const c = new RunCounter();
    expect(c.onRun({ id: 'a', status: 'queued' })).toBe(false);
    expect(c.queued).toBe(1);
    expect(c.onRun({ id: 'a', status: 'running' })).toBe(true);
    c.onRun({ id: 'b', status: 'running' });
    expect(c.running).toBe(2);
    expect(c.onRun({ id: 'a', status: 'passed' })).toBe(true);
    expect(c.running).toBe(1);
    expect(c.onRun({ id: 'b', status: 'running' })).toBe(false);
  });
});

describe('trayTooltip', () => {
  it.each([[0, 0, 'Kiln — idle'], [1, 0, 'Kiln — 1 build running'], [3, 2, 'Kiln — 3 builds running, 2 queued']])('%i running, %i queued reads %s', (r, q, text) => {
    expect(trayTooltip(r, q)).toBe(text);
  });
});
