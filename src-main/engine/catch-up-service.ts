/**
 * Catch-up: lists each configured repository's remote heads (`git ls-remote`) and turns every head
 * that moved since Kiln last saw it into a run, as if its push had arrived — so pushes sent while
 * Kiln was quit, asleep or cut off from smee.io are not lost, and repositories without webhooks
 * (no secret: poll-only) are built at all. The decisions are trigger/catch-up.ts's; the
 * exactly-once check is run-factory.ts's, inside the write that stores the run.
 *
 * When a repository is listed:
 *   - at start(), then every `intervalMs` (poll-only repositories: their poll interval);
 *   - at once for every repository when `requestAll` is called (the tunnel reconnected) or the
 *     clock-jump timer fires far later than scheduled (the machine slept);
 *   - at once for one repository on `request` (a late webhook redelivery asked to check it).
 * At most one listing per repository is in flight (a request meanwhile runs once more after it)
 * and at most `parallel` over all. A failing remote backs off (interval × 2^failures, at most
 * 30 min); its reason is kept for health and logged once per new reason, never per attempt.
 *
 * Call order: start() once, then request/requestAll/health any time; stop() waits for listings in
 * flight and ends with no timer left. Idempotent: stop().
 */
import type { RefCheck } from '../../shared/api/engine-api.js';
import type { RepositoryConfig, TriggerOutcome } from '../core/engine-contract.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { listRemoteRefs, type RemoteRefs } from '../git/remote-refs.js';
import { CATCH_UP_DEFAULTS, compareHeads, eventForHead, isClockJump, isPollOnly, nextCheckDelay } from '../trigger/catch-up.js';
import type { EngineParts } from './parts.js';
import type { PullRequestBranches } from '../forge/pull-requests.js';

const PULL_HEAD = /^refs\/pull\/(\d+)\/head$/;

export interface CatchUpDeps extends Pick<EngineParts, 'config' | 'clock' | 'heads' | 'commits' | 'onError' | 'life'> {
  /** Builds a moved head unless a run already built it (RunsService.handleCaughtUpHead). */
  handleHead(event: TriggerEvent): Promise<TriggerOutcome>;
  /** Default: `git ls-remote` (git/remote-refs.ts). */
  listRefs?: (repo: RepositoryConfig) => Promise<RemoteRefs>;
  /** ls-remote calls in flight at once over all repositories (default 8). */
  parallel?: number;
  /**
   * The base and head branches of the repository's open pull requests from its forge's API
   * (forge/pull-requests.ts); undefined without a token. Asked once per pass that found a moved
   * `refs/pull/<n>/head`; it wins over the last webhook seen for the pull request.
   */
  pullRequestsOf?: (repo: RepositoryConfig) => Promise<PullRequestBranches | undefined>;
}

interface RepoState {
  result: RefCheck['result'];
  lastCheckedAt?: number;
  error?: string;
  failures: number;
  nextCheckAt: number;
  inFlight?: Promise<void>;
  /** Asked again while a listing was in flight. */
  again: boolean;
  /** ref → commit to build if the remote still has it there (late redeliveries), taken by the next listing. */
  wanted: Map<string, string>;
  queued: boolean;
}

export class CatchUpService {
  private readonly states = new Map<string, RepoState>();
  private readonly waiting: string[] = [];
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastTickAt = 0;
  private stopped = false;
  /** Kills listings in flight at stop(): a dead host must not hold the engine's shutdown for the git timeout. */
  private readonly abort = new AbortController();
  private readonly listRefs: (repo: RepositoryConfig) => Promise<RemoteRefs>;
  private readonly parallel: number;

  constructor(private readonly d: CatchUpDeps) {
    this.listRefs = d.listRefs ?? ((repo) => listRemoteRefs({ url: repo.url, credentials: repo.credentials }, { timeoutMs: CATCH_UP_DEFAULTS.timeoutMs, signal: this.abort.signal }));
    this.parallel = Math.max(1, d.parallel ?? CATCH_UP_DEFAULTS.parallel);
  }

  private get settings(): { intervalMs: number; clockCheckMs: number } {
    return { intervalMs: this.d.config.catchUp?.intervalMs ?? CATCH_UP_DEFAULTS.intervalMs, clockCheckMs: this.d.config.catchUp?.clockCheckMs ?? CATCH_UP_DEFAULTS.clockCheckMs };
  }

  /** Lists every repository now (the start-up pass), then keeps the schedule. */
  start(): void {
    this.lastTickAt = this.d.clock();
    this.requestAll();
    this.timer = setInterval(() => this.tick(), this.settings.clockCheckMs);
    this.timer.unref();
  }

  /** Every repository is listed now (the tunnel reconnected, the machine woke up). */
  requestAll(): void {
    for (const repo of this.d.config.repositories) this.request(repo.name);
  }

  /**
   * One repository is listed now (or once more right after the listing in flight). `head`: also
   * build that ref if it is still at that commit on the remote, even if it did not move (a late
   * redelivery of a head first seen, but never built, while Kiln was away).
   */
  request(name: string, head?: { ref: string; sha: string }): void {
    if (this.stopped) return;
    const state = this.stateOf(name);
    if (head) state.wanted.set(head.ref, head.sha);
    if (state.inFlight) state.again = true;
    else this.enqueue(name, state);
  }

  /** Resolves when the repository has no listing in flight or waiting (tests, the benchmark). */
  async settled(name?: string): Promise<void> {
    for (;;) {
      const pending = [...this.states.entries()].filter(([n, s]) => (!name || n === name) && (s.inFlight || s.queued || s.again));
      if (pending.length === 0) return;
      await Promise.all(pending.map(([, s]) => s.inFlight ?? new Promise((r) => setTimeout(r, 5))));
    }
  }

  health(): RefCheck[] {
    return this.d.config.repositories.map((repo) => {
      const s = this.states.get(repo.name);
      return {
        repo: repo.name, mode: isPollOnly(repo) ? 'poll' : 'webhook', result: s?.result ?? 'pending', failures: s?.failures ?? 0,
        ...(s?.lastCheckedAt !== undefined ? { lastCheckedAt: s.lastCheckedAt } : {}), ...(s?.error ? { error: s.error } : {}),
        ...(s && s.nextCheckAt > 0 ? { nextCheckAt: s.nextCheckAt } : {}), caughtUp: this.caughtUpCount(repo.name),
      };
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.waiting.length = 0;
    this.abort.abort();
    await Promise.all([...this.states.values()].map((s) => s.inFlight?.catch(() => undefined)));
  }

  /** The clock-jump check and the periodic schedule: repositories whose next check is due are listed. */
  private tick(): void {
    if (this.stopped) return;
    const now = this.d.clock();
    const jumped = isClockJump(this.lastTickAt, now, this.settings.clockCheckMs);
    this.lastTickAt = now;
    if (jumped) {
      this.requestAll();
      return;
    }
    for (const repo of this.d.config.repositories) {
      const state = this.stateOf(repo.name);
      if (!state.inFlight && !state.queued && now >= state.nextCheckAt) this.enqueue(repo.name, state);
    }
  }

  private stateOf(name: string): RepoState {
    let state = this.states.get(name);
    if (!state) this.states.set(name, (state = { result: 'pending', failures: 0, nextCheckAt: 0, again: false, queued: false, wanted: new Map() }));
    return state;
  }

  private enqueue(name: string, state: RepoState): void {
    if (state.queued) return;
    state.queued = true;
    this.waiting.push(name);
    this.pump();
  }

  /** Starts waiting listings while fewer than `parallel` are in flight. */
  private pump(): void {
    while (!this.stopped && this.running < this.parallel && this.waiting.length > 0) {
      const name = this.waiting.shift()!;
      const state = this.stateOf(name);
      state.queued = false;
      const repo = this.d.config.repositories.find((r) => r.name === name);
      if (!repo) continue; // removed from the configuration meanwhile
      this.running++;
      state.inFlight = this.check(repo, state).finally(() => {
        this.running--;
        state.inFlight = undefined;
        if (state.again) {
          state.again = false;
          this.enqueue(name, state);
        }
        this.pump();
      });
    }
  }

  private async check(repo: RepositoryConfig, state: RepoState): Promise<void> {
    let remote: RemoteRefs;
    try {
      remote = await this.listRefs(repo);
    } catch (err) {
      this.failed(repo, state, err instanceof Error ? err.message : String(err));
      return;
    }
    if (this.stopped || this.d.life.stopping) return;
    try {
      const wanted = new Map(state.wanted);
      state.wanted.clear();
      await this.apply(repo, remote, wanted);
      this.succeeded(repo, state);
    } catch (err) {
      if (this.stopped || this.d.life.stopping) return;
      this.failed(repo, state, `catching up failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Remote heads against the last-seen ones: record a first sight, build what moved, forget what went. */
  private async apply(repo: RepositoryConfig, remote: RemoteRefs, wanted: ReadonlyMap<string, string>): Promise<void> {
    const { heads, commits, clock } = this.d;
    const comparison = compareHeads(remote, heads.repoState(repo.name) ? heads.heads(repo.name) : undefined);
    let moved: { ref: string; sha: string; before?: string }[] = [];
    if (comparison.kind === 'baseline') {
      await commits.write(() => {
        const now = clock();
        heads.markBaseline(repo.name, now);
        for (const [ref, sha] of comparison.heads) heads.setHead(repo.name, ref, sha, now);
      });
    } else {
      if (comparison.deleted.length > 0) {
        await commits.write(() => { for (const ref of comparison.deleted) heads.removeHead(repo.name, ref); });
      }
      moved = comparison.moved;
    }
    // Late redeliveries: their head is built if the remote still has it (the run guard keeps it once).
    for (const [ref, sha] of wanted) if (remote.get(ref) === sha && !moved.some((m) => m.ref === ref)) moved.push({ ref, sha });
    const fromForge = moved.some(({ ref }) => PULL_HEAD.test(ref)) ? await this.pullRequestsOf(repo) : undefined;
    const events = moved.flatMap(({ ref, sha, before }) => {
      const pr = PULL_HEAD.exec(ref);
      const known = pr ? fromForge?.get(Number(pr[1])) ?? heads.pullRequestBranches(repo.name, Number(pr[1])) : undefined;
      const event = eventForHead(repo.name, ref, sha, { ...known, defaultBranch: repo.defaultBranch }, before);
      return event ? [event] : [];
    });
    // Started together, so the lane keeps their order while their pipeline files are read at once.
    await Promise.all(events.map((event) => this.d.handleHead(event)));
  }

  /** The forge's answer, or undefined (no token, or the API failed: the fallback is the last webhook). */
  private async pullRequestsOf(repo: RepositoryConfig): Promise<PullRequestBranches | undefined> {
    if (!this.d.pullRequestsOf) return undefined;
    try {
      return await this.d.pullRequestsOf(repo);
    } catch (err) {
      this.d.onError(`catch-up of ${repo.name} could not list its open pull requests on the forge (using the last webhook's base branch)`, err);
      return undefined;
    }
  }

  private succeeded(repo: RepositoryConfig, state: RepoState): void {
    const now = this.d.clock();
    state.result = 'ok';
    state.error = undefined;
    state.failures = 0;
    state.lastCheckedAt = now;
    state.nextCheckAt = now + this.intervalOf(repo);
  }

  private failed(repo: RepositoryConfig, state: RepoState, reason: string): void {
    const now = this.d.clock();
    // Logged when the reason is new, not on every retry: a dead remote must not flood the log.
    if (state.error !== reason) this.d.onError(`catch-up of ${repo.name} failed (retrying with backoff)`, new Error(reason));
    state.result = 'failing';
    state.error = reason;
    state.failures++;
    state.lastCheckedAt = now;
    state.nextCheckAt = now + nextCheckDelay(this.intervalOf(repo), state.failures);
  }

  private intervalOf(repo: RepositoryConfig): number {
    return isPollOnly(repo) ? repo.pollIntervalMs ?? CATCH_UP_DEFAULTS.pollIntervalMs : this.settings.intervalMs;
  }

  private caughtUpCount(name: string): number {
    try {
      return this.d.heads.repoState(name)?.caught_up ?? 0;
    } catch {
      return 0; // the database is closing
    }
  }
}
