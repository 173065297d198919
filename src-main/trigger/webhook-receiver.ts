/**
 * The webhook receiver: one delivery in (headers + raw body bytes), one HTTP answer out, and one
 * row in the delivery log. Transport-free, so the express route, the tests and the benchmark all
 * drive the same code.
 *
 * Order of checks (each failure is recorded with its reason and publishes a 'delivery' event):
 *   headers (400) → JSON (400) → known repository (404) → signature against every secret of the
 *   repository (401) → ping (200) → signed event time (400) → replay: delivery id, body digest (409)
 *   → translation (ignored: 202) → rate limit (429 + Retry-After) → engine.handleEvent (202 + runIds).
 * The signature is checked before anything is remembered, so unsigned traffic cannot fill the
 * replay table or drain a repository's rate limit. A delivery passing the replay check is held in
 * memory while it is processed. The path is one way: a delivery that starts runs is handed to
 * engine.handleEvent as data, and the engine writes its record and replay keys in the transaction
 * that stores the runs, so a crash loses all or none of them; any other outcome is recorded through
 * engine.deliveries. Writes go through the engine's group commit, so a burst of deliveries shares
 * commits; the answer is sent only after the record is stored.
 */
import { createHash } from 'node:crypto';
import type { DeliveryRecord } from '../../shared/model/run.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import type { KilnEngine, RepositoryConfig } from '../core/engine-contract.js';
import { repositoryOf, translateEvent } from './github-events.js';
import { RateLimiter } from './rate-limiter.js';
import { ReplayGuard, signedEventTime, staleReason } from './replay-guard.js';
import { parseSignature, verifySignature } from './signature.js';

export type Headers = Record<string, string | string[] | undefined>;

export interface WebhookResponse {
  status: number;
  headers?: Record<string, string>;
  body: { ok: boolean; outcome: DeliveryRecord['outcome']; reason: string; runIds: string[]; deliveryId: string };
}

export interface WebhookReceiverOptions {
  engine: KilnEngine;
  now?: () => number;
}

const DEFAULT_MAX_AGE_MS = 5 * 60 * 1000;

export const SMEE_SIGNATURE_HINT =
  'The delivery came through the smee.io tunnel, which parses the JSON body and re-serialises it with JSON.stringify, ' +
  'so the bytes GitHub signed can differ (whitespace, key order, number spelling, character escapes) and no re-encoding Kiln tried matched. ' +
  'Check that the webhook secret matches, set the webhook content type to application/json, or send deliveries to Kiln directly ' +
  '(a public URL or a reverse proxy) instead of through smee.';

interface DeliveryBase {
  deliveryId: string;
  event: string;
  receivedAt: number;
  repo?: string;
}

/** How a delivery ends: what is recorded, and what the HTTP answer adds. */
interface Ending {
  outcome: DeliveryRecord['outcome'];
  status: number;
  reason: string;
  runIds?: string[];
  bodySha256?: string;
  /** A processed delivery: its id and body digest are remembered for replay protection. */
  remember?: boolean;
  headers?: Record<string, string>;
}

export class WebhookReceiver {
  private readonly engine: KilnEngine;
  private readonly now: () => number;
  private readonly guard: ReplayGuard;
  private readonly limiter = new RateLimiter();

  constructor(options: WebhookReceiverOptions) {
    this.engine = options.engine;
    this.now = options.now ?? Date.now;
    this.guard = new ReplayGuard(options.engine.deliveries, options.engine.config.webhooks.replayWindowMs);
  }

  /** Records a delivery refused before its body was read (too large: 413). */
  rejectUnread(rawHeaders: Headers, status: number, reason: string): Promise<WebhookResponse> {
    const headers = lowerCaseKeys(rawHeaders);
    const deliveryId = header(headers, 'x-github-delivery') ?? header(headers, 'x-gitea-delivery') ?? '';
    const event = header(headers, 'x-github-event') ?? header(headers, 'x-gitea-event') ?? 'unknown';
    return this.finish({ deliveryId, event, receivedAt: this.now() }, { outcome: 'rejected', status, reason });
  }

  async receive(rawHeaders: Headers, raw: Buffer): Promise<WebhookResponse> {
    const headers = lowerCaseKeys(rawHeaders);
    const receivedAt = this.now();
    const event = header(headers, 'x-github-event') ?? header(headers, 'x-gitea-event');
    const deliveryId = header(headers, 'x-github-delivery') ?? header(headers, 'x-gitea-delivery') ?? '';
    const base = { deliveryId, event: event ?? 'unknown', receivedAt };
    if (!event) return this.finish(base, { outcome: 'rejected', status: 400, reason: 'missing X-GitHub-Event header' });
    if (!deliveryId) return this.finish(base, { outcome: 'rejected', status: 400, reason: 'missing X-GitHub-Delivery header' });

    const parsed = parseBody(headers, raw);
    if (!parsed.ok) return this.finish(base, { outcome: 'rejected', status: 400, reason: parsed.reason });
    const payload = parsed.value;
    const repoName = repositoryOf(payload);
    const repo = repoName ? findRepository(this.engine.config.repositories, repoName) : undefined;
    const rec = { ...base, repo: repo?.name ?? repoName };
    if (!repo && !(event === 'ping' && !repoName)) {
      return this.finish(rec, { outcome: 'rejected', status: 404, reason: repoName
        ? `unknown repository '${repoName}': add it to the repositories of the Kiln configuration`
        : 'the payload names no repository (repository.full_name)' });
    }

    // An organisation-level ping names no repository: any configured secret may sign it.
    const secrets = repo ? repo.webhookSecrets : this.engine.config.repositories.flatMap((r) => r.webhookSecrets);
    const signature = parseSignature(headers);
    const unauthorized = (reason: string) => this.finish(rec, { outcome: 'rejected', status: 401, reason });
    if (signature === 'missing') return unauthorized('missing signature: X-Hub-Signature-256 header is absent (set a secret on the GitHub webhook)');
    if (signature === 'garbled') return unauthorized('garbled signature: X-Hub-Signature-256 must be sha256= followed by 64 hex digits');
    if (secrets.length === 0) return unauthorized(`no webhook secret is configured for ${repo?.name ?? 'any repository'}: Kiln refuses unsigned deliveries`);
    const viaSmee = header(headers, 'timestamp') !== undefined;
    const verified = verifySignature(raw, signature, secrets, viaSmee);
    if (!verified.ok || !verified.signedBytes) {
      return unauthorized(viaSmee
        ? `signature does not match any webhook secret of ${rec.repo ?? 'the repository'}. ${SMEE_SIGNATURE_HINT}`
        : `signature does not match any webhook secret of ${rec.repo ?? 'the repository'}`);
    }

    if (event === 'ping') {
      const zen = translateEvent(event, payload);
      return this.finish(rec, { outcome: 'accepted', status: 200, reason: `ping: the webhook reaches Kiln${zen.kind === 'ping' && zen.zen ? ` (“${zen.zen}”)` : ''}` });
    }
    const eventTime = signedEventTime(event, payload);
    const stale = staleReason(eventTime, receivedAt, this.engine.config.webhooks.maxAgeMs || DEFAULT_MAX_AGE_MS);
    // A late delivery (a redelivery after downtime) is not built from its payload, but it may ask
    // catch-up to check the remote: see lateDelivery. Future-dated ones stay refused.
    const late = stale !== undefined && eventTime !== undefined && eventTime < receivedAt && this.engine.requestCatchUp !== undefined;
    if (stale && !late) return this.finish(rec, { outcome: 'rejected', status: 400, reason: stale });

    const bodySha256 = createHash('sha256').update(verified.signedBytes).digest('hex');
    const claim = this.guard.reserve(deliveryId, bodySha256, receivedAt);
    if (!claim.ok) return this.finish(rec, { outcome: 'rejected', status: 409, reason: claim.reason, bodySha256 });
    // Held in memory while processed; remembered in the transaction that records a processed delivery
    // (the one that stores its runs, if any), released otherwise so that a redelivery passes.
    try {
      return await this.process({ rec, event, payload, repo, bodySha256, late: late ? stale : undefined });
    } finally {
      this.guard.release(deliveryId, bodySha256);
    }
  }

  private async process(d: { rec: DeliveryBase; event: string; payload: unknown; repo: RepositoryConfig | undefined; bodySha256: string; late?: string }): Promise<WebhookResponse> {
    const { rec, bodySha256 } = d;
    const translation = translateEvent(d.event, d.payload);
    if (translation.kind !== 'trigger' || !d.repo) {
      const reason = translation.kind === 'ignored' ? translation.reason : 'nothing to do';
      return this.finish(rec, { outcome: 'ignored', status: 202, reason, bodySha256, remember: true });
    }
    const repo = d.repo;
    const rate = this.limiter.take(repo.name, repo.rateLimitPerMinute, rec.receivedAt);
    if (!rate.ok) {
      return this.finish(rec, {
        outcome: 'rejected', status: 429, bodySha256, headers: { 'Retry-After': String(rate.retryAfterSeconds) },
        reason: `rate limit of ${repo.rateLimitPerMinute} triggers per minute for ${repo.name} exceeded; retry after ${rate.retryAfterSeconds} s`,
      });
    }
    const trigger = { ...translation.event, repo: repo.name };
    if (d.late) return this.lateDelivery(rec, bodySha256, trigger, d.late);
    const how = trigger.kind === 'pull_request' ? `pull request #${trigger.prNumber ?? '?'}` : `${trigger.kind} ${trigger.branch ?? trigger.tag ?? ''}`.trim();
    try {
      // The engine records the delivery and its replay keys in the transaction that stores the runs:
      // a crash can lose both or neither, never let a redelivery start the same runs twice.
      const outcome = await this.engine.handleEvent(trigger, {
        deliveryId: rec.deliveryId, event: rec.event, receivedAt: rec.receivedAt, bodySha256, summary: `${how} at ${trigger.sha.slice(0, 12)}`,
      });
      if (outcome.runIds.length === 0) {
        return await this.finish(rec, { outcome: 'ignored', status: 202, reason: outcome.reason ?? 'no pipeline matched this event', bodySha256, remember: true });
      }
      if (!outcome.delivery) throw new Error('runs were stored without their delivery record');
      return this.answer(outcome.delivery);
    } catch (err) {
      // The delivery was not processed: let GitHub's redelivery through (not remembered), and give the token back.
      this.limiter.refund(repo.name);
      return this.finish(rec, {
        outcome: 'rejected', status: 500, bodySha256,
        reason: `the engine could not start runs: ${err instanceof Error ? err.message : String(err)}; redeliver from GitHub once fixed`,
      });
    }
  }

  /**
   * A signed delivery older than the freshness limit (GitHub's Redeliver after Kiln was offline).
   * Its payload is not trusted to say what to build — an old captured body must not rebuild an old
   * commit — so it only asks catch-up to list the remote now: the ref is built if the remote still
   * has this commit as its head and no run has built it. The delivery id and body digest are
   * remembered as for any processed delivery, so the same delivery cannot ask twice; the rate
   * limit has been taken.
   */
  private lateDelivery(rec: DeliveryBase, bodySha256: string, trigger: TriggerEvent, stale: string): Promise<WebhookResponse> {
    const ref = trigger.ref;
    if (!ref || trigger.kind === 'manual') {
      return this.finish(rec, { outcome: 'rejected', status: 400, reason: stale });
    }
    this.engine.requestCatchUp?.(trigger.repo, { ref, sha: trigger.sha });
    return this.finish(rec, {
      outcome: 'accepted', status: 202, bodySha256, remember: true,
      reason: `late delivery (${stale.replace(/^stale delivery: /, '')}): not built from its payload; Kiln lists ${trigger.repo}'s remote heads now and builds ${ref} at ${trigger.sha.slice(0, 12)} if it is still the head and no run has built it`,
    });
  }

  /** Records the delivery (and remembers a processed one) in this turn's group commit, then answers. */
  private async finish(rec: DeliveryBase, end: Ending): Promise<WebhookResponse> {
    const delivery = await this.engine.deliveries.write({
      ...rec, outcome: end.outcome, httpStatus: end.status, reason: end.reason, runIds: end.runIds ?? [], bodySha256: end.bodySha256, remember: end.remember,
    });
    return this.answer(delivery, end.headers);
  }

  /** Publishes a stored delivery record and makes the HTTP answer from it. */
  private answer(delivery: DeliveryRecord, headers?: Record<string, string>): WebhookResponse {
    this.engine.publish({ type: 'delivery', delivery });
    return { status: delivery.httpStatus, headers, body: { ok: delivery.httpStatus < 300, outcome: delivery.outcome, reason: delivery.reason, runIds: delivery.runIds, deliveryId: delivery.deliveryId } };
  }
}

type ParsedBody = { ok: true; value: unknown } | { ok: false; reason: string };

/** JSON, or GitHub's form encoding (`payload=<json>`); the signature is over the raw bytes either way. */
function parseBody(headers: Headers, raw: Buffer): ParsedBody {
  const type = (header(headers, 'content-type') ?? 'application/json').toLowerCase();
  let text = raw.toString('utf8');
  if (type.startsWith('application/x-www-form-urlencoded')) {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null) return { ok: false, reason: 'malformed payload: form-encoded body has no payload field' };
    text = payload;
  }
  if (text.length === 0) return { ok: false, reason: 'malformed payload: the body is empty' };
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'malformed payload: the body is not a JSON object' };
    return { ok: true, value };
  } catch (err) {
    return { ok: false, reason: `malformed payload: invalid JSON (${err instanceof Error ? err.message : String(err)})` };
  }
}

function findRepository(repos: readonly RepositoryConfig[], name: string): RepositoryConfig | undefined {
  // GitHub owner and repository names are case-insensitive.
  const lower = name.toLowerCase();
  return repos.find((r) => r.name.toLowerCase() === lower);
}

/** Header names are case-insensitive; Node lower-cases them, other callers may not. */
function lowerCaseKeys(headers: Headers): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}
