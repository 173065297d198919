/**
 * Keeps the smee tunnel in step with the configuration: started at boot when `tunnel.url` is set,
 * and restarted (or stopped) whenever the settings page saves a different URL. Used by `kiln serve`
 * and the desktop app alike. Restarts are serialised: the old connection is closed before the new
 * one opens, so two tunnels never forward the same channel.
 */
import type { KilnEngine } from '../core/engine-contract.js';
import type { SettingsChange } from '../settings/settings-service.js';
import { SmeeTunnel, type TunnelLogger } from './smee-tunnel.js';

export interface TunnelHost {
  readonly config: KilnEngine['config'];
  setTunnelState: KilnEngine['setTunnelState'];
  onSettingsChanged(listener: (change: SettingsChange) => void): () => void;
}

export interface TunnelControl {
  /** The channel URL being forwarded now, if any. */
  readonly url: string | undefined;
  /** Resolves once the latest change has been acted on (tests). */
  settled(): Promise<void>;
  /** Closes the tunnel and stops following the settings. Idempotent. */
  stop(): Promise<void>;
}

export function controlTunnel(engine: TunnelHost, options: { target: string; logger?: TunnelLogger; onStarted?: (url: string) => void }): TunnelControl {
  let tunnel: SmeeTunnel | undefined;
  let url: string | undefined;
  let chain = Promise.resolve();
  let stopped = false;

  const follow = (): Promise<void> => {
    chain = chain.then(async () => {
      const wanted = stopped ? undefined : engine.config.tunnel?.url;
      if (wanted === url) return;
      if (tunnel) await tunnel.stop();
      tunnel = undefined;
      url = wanted;
      if (!wanted) {
        engine.setTunnelState({ state: 'disabled' });
        return;
      }
      tunnel = new SmeeTunnel({ source: wanted, target: options.target, onState: (s) => engine.setTunnelState(s), logger: options.logger });
      options.onStarted?.(wanted);
      // start() resolves after the first attempt; reconnection goes on in the background.
      void tunnel.start();
    }).catch(() => undefined);
    return chain;
  };

  const unsubscribe = engine.onSettingsChanged((change) => { if (change.tunnel) void follow(); });
  void follow();
  return {
    get url() { return url; },
    settled: () => chain,
    async stop() {
      stopped = true;
      unsubscribe();
      await follow();
    },
  };
}
