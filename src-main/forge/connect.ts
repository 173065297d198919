/**
 * Connecting a repository in one step: what a person otherwise does by hand on smee.io and on the
 * forge's webhook page.
 *
 *   repository → (the repository exists in Kiln, or is added with `url`)
 *   channel    → the configured smee.io channel, or a new one (smee.io answers GET /new with a
 *                redirect to the new channel's URL) saved as the tunnel
 *   secret     → a new random webhook secret, added to the repository's accepted secrets
 *   webhook    → the forge's webhook for the channel: updated when one points there already (the
 *                one created before), created otherwise — JSON, push and pull_request, the secret
 *   ping       → the forge's ping, and its arrival at Kiln's webhook receiver through the tunnel
 *
 * Each step's result is reported; the first failure names the step and the fix and ends the list.
 * Without a token (given or stored) the manual values come back instead of the webhook steps.
 * The token and the secret never appear in a message.
 */
import { randomBytes } from 'node:crypto';
import { ApiError, type EngineEvent } from '../../shared/api/engine-api.js';
import type { ConnectInput, ConnectReport, ConnectStep, RepositoryInput } from '../../shared/api/settings-types.js';
import type { DeliveryRecord } from '../../shared/model/run.js';
import { DEFAULT_FORGE_API_URL, type RepositoryConfig } from '../core/engine-contract.js';
import { checkRepositoryName } from '../settings/settings-input.js';
import { createForgeClient, ForgeError, type ForgeClientOptions } from './client.js';

export const WEBHOOK_EVENTS = ['push', 'pull_request'];

export interface ConnectDeps {
  repository(name: string): RepositoryConfig | undefined;
  tunnelUrl(): string | undefined;
  saveTunnelUrl(url: string): Promise<void>;
  saveRepository(input: RepositoryInput): Promise<unknown>;
  /** Resolves with the first delivery of `event` for `repo` received from now on, or undefined after `timeoutMs`. */
  nextDelivery(repo: string, event: string, timeoutMs: number): Promise<DeliveryRecord | undefined>;
  /** Default https://smee.io. */
  smeeBase?: string;
  pingTimeoutMs?: number;
  client?: Pick<ForgeClientOptions, 'writePaceMs' | 'timeoutMs' | 'retries' | 'retryBaseMs'>;
}

type Steps = ConnectReport['steps'];

/** smee.io's "new channel": a redirect whose Location is the channel URL. */
export async function createSmeeChannel(base: string, timeoutMs = 10_000): Promise<string> {
  const res = await fetch(new URL('/new', base), { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  const location = res.headers.get('location');
  await res.body?.cancel();
  if (res.status < 300 || res.status >= 400 || !location) throw new Error(`${base}/new answered ${res.status} without a redirect to a channel`);
  const url = new URL(location, base).toString();
  if (url === new URL('/new', base).toString()) throw new Error(`${base}/new redirected to itself`);
  return url;
}

export async function connectRepository(deps: ConnectDeps, input: ConnectInput): Promise<ConnectReport> {
  if (typeof input !== 'object' || input === null) throw new ApiError('BAD_REQUEST', 'connectRepository takes an object {name, url?, token?, apiUrl?}');
  const name = checkRepositoryName(input.name, 'name');
  const steps: Steps = [];
  const done = (step: ConnectStep, message: string) => steps.push({ step, ok: true, message });
  const fail = (step: ConnectStep, message: string): ConnectReport => {
    steps.push({ step, ok: false, message });
    return { ok: false, steps };
  };

  // repository: exists, or is added now (the settings service checks the URL and names the field).
  // Unknown and no URL to add it with: nothing was attempted, so a NOT_FOUND like other repository calls.
  let repo = deps.repository(name);
  if (!repo && input.url === undefined) throw new ApiError('NOT_FOUND', `repository '${name}' is not configured: give its clone URL (url), or add it in Settings first`);
  try {
    if (!repo || input.url !== undefined || input.token !== undefined || input.apiUrl !== undefined) {
      await deps.saveRepository({
        name, ...(input.url !== undefined ? { url: input.url } : {}),
        ...(input.token !== undefined || input.apiUrl !== undefined ? { forge: { ...(input.token !== undefined ? { token: input.token } : {}), ...(input.apiUrl !== undefined ? { apiUrl: input.apiUrl } : {}) } } : {}),
      });
      repo = deps.repository(name);
    }
  } catch (err) {
    return fail('repository', err instanceof Error ? err.message : String(err));
  }
  if (!repo) return fail('repository', `${name} could not be saved`);
  done('repository', `${name} is configured`);

  // channel
  let channel = deps.tunnelUrl();
  if (channel) done('channel', `using the tunnel ${channel}`);
  else {
    const base = deps.smeeBase ?? 'https://smee.io';
    try {
      channel = await createSmeeChannel(base);
      await deps.saveTunnelUrl(channel);
    } catch (err) {
      return fail('channel', `could not create a channel on ${base} (${err instanceof Error ? err.message : String(err)}): create one at ${base} and set it under Settings › Webhook tunnel`);
    }
    done('channel', `created the channel ${channel} and connected the tunnel`);
  }

  // secret
  const secret = randomBytes(32).toString('hex');
  try {
    await deps.saveRepository({ name, addWebhookSecrets: [secret] });
  } catch (err) {
    return fail('secret', err instanceof Error ? err.message : String(err));
  }
  done('secret', 'generated a new webhook secret (256 bits) and added it to the accepted secrets');

  const token = repo.forge?.token;
  if (!token) {
    return {
      ok: true, steps,
      manual: { payloadUrl: channel, contentType: 'application/json', secret, events: WEBHOOK_EVENTS },
    };
  }

  // webhook
  const [owner, repoName] = name.split('/');
  const client = createForgeClient({ apiUrl: repo.forge?.apiUrl ?? DEFAULT_FORGE_API_URL, token, ...deps.client });
  let hookId: number;
  try {
    const existing = (await client.listHooks(owner, repoName)).find((h) => h.url === channel);
    hookId = await client.saveHook(owner, repoName, { id: existing?.id, url: channel, secret, events: WEBHOOK_EVENTS });
    done('webhook', `${existing ? 'updated the webhook' : 'created a webhook'} (#${hookId}) sending push and pull_request events as JSON to the channel`);
  } catch (err) {
    return fail('webhook', webhookProblem(err));
  }

  // ping: sent by the forge, checked where it must arrive
  const arrival = deps.nextDelivery(name, 'ping', deps.pingTimeoutMs ?? 15_000);
  try {
    await client.pingHook(owner, repoName, hookId);
  } catch (err) {
    return fail('ping', `the forge refused the ping: ${webhookProblem(err)}`);
  }
  const delivery = await arrival;
  if (!delivery) return fail('ping', `the forge sent the ping but it did not reach Kiln within ${Math.round((deps.pingTimeoutMs ?? 15_000) / 1000)} s: check that the tunnel is connected (Settings › Webhook tunnel)`);
  if (delivery.outcome === 'rejected') return fail('ping', `the ping reached Kiln but was refused: ${delivery.reason}`);
  done('ping', 'the forge\'s ping reached Kiln through the tunnel');
  return { ok: true, steps };
}

/** The first `event` delivery for `repo` that the engine reports from now on (or undefined after the timeout). */
export function nextDelivery(engine: { subscribe(l: (e: EngineEvent) => void): () => void }, repo: string, event: string, timeoutMs: number): Promise<DeliveryRecord | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { stop(); resolve(undefined); }, timeoutMs);
    const stop = engine.subscribe((e) => {
      if (e.type !== 'delivery' || e.delivery.event !== event || e.delivery.repo !== repo) return;
      clearTimeout(timer);
      stop();
      resolve(e.delivery);
    });
  });
}

function webhookProblem(err: unknown): string {
  if (err instanceof ForgeError) {
    if (err.status === 403 || err.status === 404) return 'the token cannot manage webhooks: it needs "Webhooks: write" (fine-grained) or the admin:repo_hook scope (classic), and the repository must exist';
    if (err.status === 401) return 'the forge rejected the token (401): check it and try again';
    if (err.status === 422) return `the forge refused the webhook (422): ${err.message}`;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
