/**
 * The smee.io tunnel: smee-client reads the channel's server-sent events and re-posts each delivery
 * to Kiln's local webhook URL, so GitHub can reach a workstation without a public address.
 *
 * State (reported through engine.setTunnelState, visible in health() and the UI):
 *   connecting → connected → (connection drops) → error (with the reason) → connecting → …
 * Reconnection is ours, with exponential backoff (the EventSource's own fixed 3 s retry is cut
 * short), and the backoff resets once a connection opens.
 *
 * Deliveries sent while the tunnel is down are lost: smee.io does not queue them for later. The
 * recovery is GitHub's "Redeliver" button (docs/webhooks.md).
 */
import { SmeeClient } from 'smee-client';
import type { TunnelState } from '../../shared/api/engine-api.js';

export interface TunnelLogger {
  info(message: string): void;
  error(message: string): void;
}

export interface SmeeTunnelOptions {
  /** The smee.io channel URL (https://smee.io/<channel>), or a compatible SSE endpoint. */
  source: string;
  /** Where deliveries are re-posted: Kiln's local `POST /webhooks/github` URL. */
  target: string;
  /** Receives every state change (wire it to engine.setTunnelState). */
  onState: (state: TunnelState) => void;
  logger?: TunnelLogger;
  /** First reconnect delay; doubles per failed attempt up to maxBackoffMs. Defaults 500 ms / 30 s. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

const QUIET: TunnelLogger = { info: () => {}, error: () => {} };

export class SmeeTunnel {
  private client: SmeeClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = false;
  private generation = 0;
  private state: TunnelState;
  private readonly logger: TunnelLogger;

  constructor(private readonly options: SmeeTunnelOptions) {
    this.logger = options.logger ?? QUIET;
    this.state = { state: 'connecting', url: options.source };
  }

  get current(): TunnelState {
    return this.state;
  }

  /** Starts connecting; resolves once the first attempt has opened or failed (it keeps retrying). */
  start(): Promise<void> {
    this.stopped = false;
    return this.connect();
  }

  /** Closes the connection and cancels any pending reconnect. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    if (client) await client.stop();
    this.setState({ state: 'disabled' });
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    const url = this.options.source;
    this.setState({ state: 'connecting', url });
    const smeeLogger = {
      info: (...args: unknown[]) => this.logger.info(`smee: ${args.map(String).join(' ')}`),
      error: (...args: unknown[]) => this.logger.error(`smee: ${args.map(describe).join(' ')}`),
    };
    let client: SmeeClient;
    try {
      client = new SmeeClient({ source: url, target: this.options.target, logger: smeeLogger });
    } catch (err) {
      // A malformed URL will not get better by retrying.
      this.setState({ state: 'error', url, message: `invalid tunnel configuration: ${describe(err)}`, since: Date.now() });
      return;
    }
    this.client = client;
    client.onopen = () => {
      if (generation !== this.generation) return;
      this.attempt = 0;
      this.setState({ state: 'connected', url, since: Date.now() });
    };
    client.onerror = (ev) => {
      if (generation !== this.generation) return;
      this.dropped(client, generation, ev?.message ?? 'connection error');
    };
    try {
      await client.start();
    } catch (err) {
      if (generation === this.generation) this.dropped(client, generation, describe(err));
    }
  }

  private dropped(client: SmeeClient, generation: number, message: string): void {
    if (this.stopped || generation !== this.generation) return;
    this.generation++;
    const delay = Math.min(this.options.maxBackoffMs ?? 30_000, (this.options.initialBackoffMs ?? 500) * 2 ** this.attempt);
    this.attempt++;
    this.setState({
      state: 'error', url: this.options.source, since: Date.now(),
      message: `${message}; deliveries sent meanwhile are lost (redeliver them from GitHub); reconnecting in ${Math.round(delay / 100) / 10} s`,
    });
    // Let the EventSource finish dispatching (it arms its own retry timer right after), then close it.
    setImmediate(() => { void client.stop().catch(() => {}); });
    if (this.client === client) this.client = undefined;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, delay);
  }

  private setState(state: TunnelState): void {
    this.state = state;
    if (state.state === 'error') this.logger.error(`tunnel ${state.url}: ${state.message}`);
    else if (state.state === 'connected') this.logger.info(`tunnel connected: ${state.url}`);
    this.options.onState(state);
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string') return err.message;
  return String(err);
}
