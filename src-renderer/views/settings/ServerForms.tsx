import { useEffect, useState } from 'react';
import type { TunnelState } from '../../../shared/api/engine-api.js';
import type { SettingsView } from '../../../shared/api/settings-types.js';
import { useClient } from '../../app/hooks.js';
import { durationText, SaveOutcome, sizeText, useSave } from './use-save.js';

function TunnelBadge({ tunnel }: { tunnel: TunnelState }) {
  const label = tunnel.state === 'disabled' ? 'Disabled' : tunnel.state === 'connecting' ? 'Connecting…' : tunnel.state === 'connected' ? 'Connected' : 'Error';
  return <span className={`pill pill-tunnel-${tunnel.state}`} data-tunnel-state={tunnel.state}>{label}</span>;
}

/** The smee.io channel: its live state, and its URL (saving reconnects at once; removing disconnects). */
export function TunnelForm({ settings, tunnel, onSaved }: { settings: SettingsView; tunnel: TunnelState; onSaved: () => void }) {
  const client = useClient();
  const save = useSave();
  const [url, setUrl] = useState(settings.tunnel.url ?? '');
  useEffect(() => setUrl(settings.tunnel.url ?? ''), [settings.tunnel.url]);
  return (
    <>
      <div className="kv" data-testid="tunnel">
        <span>State</span><span><TunnelBadge tunnel={tunnel} /></span>
        {tunnel.state === 'connected' && <><span>Since</span><span>{new Date(tunnel.since).toLocaleString()}</span></>}
        {tunnel.state === 'error' && <><span>Problem</span><span className="text-danger">{tunnel.message}</span></>}
      </div>
      <form className="inline-form" data-testid="tunnel-form" onSubmit={(e) => {
        e.preventDefault();
        void save.run(() => client.saveServerSettings({ tunnelUrl: url.trim() || null }), url.trim() ? 'Saved; the tunnel is reconnecting.' : 'Tunnel removed.', onSaved);
      }}>
        <label className="grow">
          <span>Channel URL</span>
          <input name="tunnelUrl" type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://smee.io/your-channel" spellCheck={false} autoComplete="off" />
        </label>
        <button type="submit" className="btn btn-primary" disabled={save.busy || url.trim() === (settings.tunnel.url ?? '')} data-action="save-tunnel">Save</button>
        {settings.tunnel.url && (
          <button type="button" className="btn btn-danger" disabled={save.busy} data-action="remove-tunnel"
            onClick={() => void save.run(() => client.saveServerSettings({ tunnelUrl: null }), 'Tunnel removed.', onSaved)}>Remove</button>
        )}
      </form>
      <SaveOutcome state={save} />
    </>
  );
}

/**
 * Concurrency (applies to the next claims), retention (the next retention pass), how long debug
 * keeps a failed job (the next kept job) and how often catch-up lists the remotes (the next listing).
 */
export function LimitsForm({ settings, onSaved }: { settings: SettingsView; onSaved: () => void }) {
  const client = useClient();
  const save = useSave();
  const initial = (): Record<string, string> => ({
    jobs: String(settings.concurrency.jobs), perRepository: String(settings.concurrency.perRepository),
    artifacts: durationText(settings.retention.artifactsMs), caches: durationText(settings.retention.cachesMs),
    cacheSize: sizeText(settings.retention.cacheSizeBytes), workspaces: durationText(settings.retention.workspacesMs),
    debugKeep: settings.debugKeepMs !== undefined ? durationText(settings.debugKeepMs) : '',
    catchUpInterval: settings.catchUpIntervalMs !== undefined ? durationText(settings.catchUpIntervalMs) : '',
  });
  const [v, setV] = useState(initial);
  // Re-seeded only when the saved values change, not on every render of the page.
  useEffect(() => setV(initial()), [JSON.stringify(settings.concurrency), JSON.stringify(settings.retention), settings.debugKeepMs, settings.catchUpIntervalMs]);
  const field = (name: string, label: string, hint: string, type = 'text') => (
    <label>
      <span>{label} <small className="muted">{hint}</small></span>
      <input name={name} type={type} min={type === 'number' ? 1 : undefined} max={type === 'number' ? 256 : undefined} value={v[name]}
        onChange={(e) => setV({ ...v, [name]: e.target.value })} spellCheck={false} autoComplete="off" />
    </label>
  );
  return (
    <form className="grid-form" data-testid="limits" onSubmit={(e) => {
      e.preventDefault();
      // Numbers go as typed (the engine names the field when one is not a whole number).
      const num = (s: string): number => (s.trim() === '' ? NaN : Number(s));
      // Sent only when edited, so a default stays out of the file; empty restores the default.
      const was = initial();
      const edited = (key: 'debugKeep' | 'catchUpInterval'): { [k: string]: string | null } => (v[key].trim() === was[key] ? {} : { [key]: v[key].trim() || null });
      void save.run(() => client.saveServerSettings({
        concurrency: { jobs: num(v.jobs), perRepository: num(v.perRepository) },
        retention: { artifacts: v.artifacts, caches: v.caches, cacheSize: v.cacheSize, workspaces: v.workspaces },
        ...edited('debugKeep'), ...edited('catchUpInterval'),
      }), 'Saved; new limits apply to the next jobs.', onSaved);
    }}>
      {field('jobs', 'Concurrent jobs', 'in total', 'number')}
      {field('perRepository', 'Per repository', 'at most', 'number')}
      {field('artifacts', 'Keep artifacts', 'e.g. 30d')}
      {field('caches', 'Keep unused caches', 'e.g. 30d')}
      {field('cacheSize', 'Cache size cap', 'e.g. 10GB')}
      {field('workspaces', 'Keep workspaces', 'e.g. 24h')}
      {field('debugKeep', 'Keep a failed job for debug', 'e.g. 30m')}
      {field('catchUpInterval', 'Check remotes for missed pushes', 'every, e.g. 5m')}
      <div className="grid-form-actions">
        <SaveOutcome state={save} />
        <button type="submit" className="btn btn-primary" disabled={save.busy} data-action="save-limits">Save limits</button>
      </div>
    </form>
  );
}
