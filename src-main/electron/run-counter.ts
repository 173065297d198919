/**
 * Counts the running builds for the tray (icon tooltip and menu), from the live run events.
 * Seeded from listRuns at start-up; a run leaves the count when any terminal status arrives.
 */
import type { RunSummary } from '../../shared/model/run.js';
import type { Status } from '../../shared/model/status.js';

export class RunCounter {
  private readonly status = new Map<string, Status>();

  /** Returns true when the count changed (the tray needs an update). */
  onRun(run: Pick<RunSummary, 'id' | 'status'>): boolean {
    const before = this.running;
    if (run.status === 'running' || run.status === 'queued') this.status.set(run.id, run.status);
    else this.status.delete(run.id);
    return before !== this.running;
  }

  get running(): number {
    let n = 0;
    for (const s of this.status.values()) if (s === 'running') n++;
    return n;
  }

  get queued(): number {
    let n = 0;
    for (const s of this.status.values()) if (s === 'queued') n++;
    return n;
  }
}

export function trayTooltip(running: number, queued: number): string {
  if (running === 0 && queued === 0) return 'Kiln — idle';
  const parts = [`${running} build${running === 1 ? '' : 's'} running`];
  if (queued > 0) parts.push(`${queued} queued`);
  return `Kiln — ${parts.join(', ')}`;
}
