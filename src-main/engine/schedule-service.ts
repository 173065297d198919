/**
 * `on.schedule`: runs a repository's pipeline at its cron times. The schedules come from the
 * pipeline file on the repository's default branch (as GitHub reads them), re-read every
 * `refreshMs`; each runs on the default branch, or on the branches it lists.
 *
 * Once per schedule and time: the latest scheduled time already run is stored per schedule
 * (flow-store.ts), and written before the run starts. A schedule seen for the first time starts
 * from now (no run for times before Kiln knew it). When a check finds several of a schedule's
 * times passed — the machine slept, or Kiln was not running — the schedule runs once, not once per
 * missed time, and the run says so (RunSummary.schedule.note); a single time found late by more
 * than two minutes says that too.
 *
 * Checks run every `checkEveryMs`, the first one that long after start (and on demand: check());
 * calls are serialized. `clock` is
 * injectable (EngineOptions.scheduleClock) so tests can jump across times and sleeps.
 */
import type { RepositoryConfig } from '../core/engine-contract.js';
import type { ScheduleInfo } from '../../shared/model/run.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { SCHEDULE_ACTOR } from '../../shared/model/trigger-event.js';
import type { TriggerOutcome } from '../core/engine-contract.js';
import { localTimeZone, nextCronTime } from '../pipeline/cron.js';
import type { ScheduleSpec } from '../pipeline/pipeline-model.js';
import { formatDuration } from '../../shared/format.js';
import type { EngineParts } from './parts.js';
import { PIPELINE_FILE } from './run-factory.js';

type Parts = Pick<EngineParts, 'config' | 'flow' | 'onError' | 'life' | 'pipeline' | 'checkout' | 'mirrorsDir' | 'commits'>;

export interface ScheduleDeps extends Parts {
  clock: () => number;
  startRun(event: TriggerEvent, fired: { slot: number; missed: number; note: string }): Promise<TriggerOutcome>;
}

export const SCHEDULE_CHECK_MS = 15_000;
export const SCHEDULE_REFRESH_MS = 5 * 60_000;
/** Later than this after its time, a run says it started late. */
const LATE_MS = 2 * 60_000;
/** Counting missed times stops here (a minutely schedule after a month away). */
const MAX_COUNTED = 100_000;

interface Defined {
  repo: RepositoryConfig;
  pipeline: string;
  spec: ScheduleSpec;
  /** Identity of the schedule in storage: its cron, zone and branches. */
  key: string;
}

export class ScheduleService {
  private defined = new Map<string, Defined[]>();
  private refreshedAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: ScheduleDeps, private readonly refreshMs = SCHEDULE_REFRESH_MS) {}

  /**
   * The first check comes `checkEveryMs` after start, not at once: reading the schedules fetches
   * every repository, and start-up is catch-up's time (a time is run at most that much late).
   */
  start(checkEveryMs = SCHEDULE_CHECK_MS): void {
    this.timer = setInterval(() => void this.tick(), checkEveryMs);
    this.timer.unref();
  }

  /**
   * Stops the timer. A check in flight is not awaited (a remote that never answers must not hold the
   * engine's stop); it writes nothing once the engine is stopping.
   */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-reads every repository's schedules from its default branch now. */
  refresh(): Promise<void> {
    return this.serial(() => this.readAll());
  }

  /** Starts a run for every schedule with a time due; returns the runs started. */
  check(): Promise<string[]> {
    return this.serial(() => this.fireDue());
  }

  async list(): Promise<ScheduleInfo[]> {
    if (this.refreshedAt === Number.NEGATIVE_INFINITY && !this.d.life.stopping) await this.refresh();
    const now = this.d.clock();
    const out: ScheduleInfo[] = [];
    for (const defs of this.defined.values()) {
      for (const def of defs) {
        const last = this.d.flow.lastScheduleSlot(def.repo.name, def.key);
        const nextAt = safeNext(def.spec, Math.max(now, last ?? now));
        out.push({
          repo: def.repo.name, pipeline: def.pipeline, cron: def.spec.cron, timezone: def.spec.timezone ?? localTimeZone(),
          localTimezone: def.spec.timezone === undefined, branches: def.spec.branches ?? [def.repo.defaultBranch],
          ...(nextAt !== undefined ? { nextAt } : {}), ...(last !== undefined ? { lastSlot: last } : {}),
        });
      }
    }
    return out;
  }

  private async tick(): Promise<void> {
    if (this.d.life.stopping) return;
    try {
      if (this.d.clock() - this.refreshedAt >= this.refreshMs) await this.refresh();
      await this.check();
    } catch (err) {
      this.d.onError('checking schedules failed', err);
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.catch(() => undefined).then(fn);
    this.chain = next;
    return next;
  }

  private async readAll(): Promise<void> {
    this.refreshedAt = this.d.clock();
    const found = new Map<string, Defined[]>();
    for (const repo of this.d.config.repositories) {
      if (this.d.life.stopping) return;
      try {
        found.set(repo.name, await this.readRepository(repo));
      } catch (err) {
        // Keep what was known: a remote that is briefly away must not drop its schedules.
        found.set(repo.name, this.defined.get(repo.name) ?? []);
        this.d.onError(`reading the schedules of ${repo.name}`, err);
      }
    }
    this.defined = found;
  }

  private async readRepository(repo: RepositoryConfig): Promise<Defined[]> {
    const source = { url: repo.url, credentials: repo.credentials };
    const sha = await this.d.checkout.resolveCommit(source, repo.defaultBranch, this.d.mirrorsDir);
    const text = await this.d.checkout.readFileAtCommit(source, sha, PIPELINE_FILE, this.d.mirrorsDir);
    if (text === undefined) return [];
    const { pipeline } = this.d.pipeline.parsePipeline(text, PIPELINE_FILE);
    return (pipeline?.on.schedule ?? []).map((spec) => ({
      repo, pipeline: pipeline?.name ?? PIPELINE_FILE, spec,
      key: [spec.cron.trim().replace(/\s+/g, ' '), spec.timezone ?? '', (spec.branches ?? []).join(',')].join('|'),
    }));
  }

  private async fireDue(): Promise<string[]> {
    const started: string[] = [];
    for (const defs of this.defined.values()) {
      for (const def of defs) {
        if (this.d.life.stopping) return started;
        started.push(...(await this.fireIfDue(def)));
      }
    }
    return started;
  }

  private async fireIfDue(def: Defined): Promise<string[]> {
    if (this.d.life.stopping) return [];
    const now = this.d.clock();
    const last = this.d.flow.lastScheduleSlot(def.repo.name, def.key);
    if (last === undefined) {
      await this.d.commits.write(() => this.d.flow.setScheduleSlot(def.repo.name, def.key, now));
      return [];
    }
    const first = safeNext(def.spec, last);
    if (first === undefined || first > now) return [];
    let latest = first;
    let count = 1;
    for (let t = safeNext(def.spec, first); t !== undefined && t <= now && count < MAX_COUNTED; t = safeNext(def.spec, t)) {
      latest = t;
      count++;
    }
    // Recorded before the run starts: a crash in between loses this time rather than running it twice.
    await this.d.commits.write(() => this.d.flow.setScheduleSlot(def.repo.name, def.key, latest));
    const note = describeFiring(def.spec, { first, latest, count, now });
    const ids: string[] = [];
    for (const branch of def.spec.branches ?? [def.repo.defaultBranch]) {
      if (this.d.life.stopping) break;
      try {
        const sha = await this.d.checkout.resolveCommit({ url: def.repo.url, credentials: def.repo.credentials }, branch, this.d.mirrorsDir);
        const outcome = await this.d.startRun(
          { kind: 'schedule', repo: def.repo.name, branch, sha, ref: `refs/heads/${branch}`, triggeredBy: SCHEDULE_ACTOR },
          { slot: latest, missed: count - 1, note },
        );
        ids.push(...outcome.runIds);
        if (!outcome.runIds.length && outcome.reason) this.d.onError(`schedule '${def.spec.cron}' of ${def.repo.name} on ${branch} started nothing`, new Error(outcome.reason));
      } catch (err) {
        this.d.onError(`schedule '${def.spec.cron}' of ${def.repo.name} on ${branch}`, err);
      }
    }
    return ids;
  }
}

function safeNext(spec: ScheduleSpec, after: number): number | undefined {
  try {
    return nextCronTime(spec.cron, spec.timezone, after);
  } catch {
    return undefined; // checked when the file was read; a zone the system lost is not worth a crash
  }
}

/** What a scheduled run says about its start: its time, and any times it stands in for. */
export function describeFiring(spec: ScheduleSpec, f: { first: number; latest: number; count: number; now: number }): string {
  const zone = spec.timezone ?? localTimeZone();
  const when = (t: number) => `${new Intl.DateTimeFormat('en-GB', { timeZone: zone, dateStyle: 'medium', timeStyle: 'short' }).format(t)} ${zone}`;
  const base = `scheduled by '${spec.cron}' for ${when(f.latest)}`;
  if (f.count > 1) {
    return `${base}; ${f.count} scheduled times passed (the first ${when(f.first)}) while this machine was asleep or Kiln was not running: the schedule runs once now, not once per missed time`;
  }
  const late = f.now - f.latest;
  return late > LATE_MS ? `${base}; started ${formatDuration(late)} late: this machine was asleep or Kiln was not running at that time` : base;
}
