import { useState } from 'react';
import type { TunnelState } from '../../shared/api/engine-api.js';
import { formatBytes, formatPeriod } from '../app/format.js';
import { useAsync, useClient, useEngineEvents } from '../app/hooks.js';
import { Empty, ErrorBanner } from '../components/ErrorBanner.js';

function TunnelBadge({ tunnel }: { tunnel: TunnelState }) {
  const label = tunnel.state === 'disabled' ? 'Disabled' : tunnel.state === 'connecting' ? 'Connecting…' : tunnel.state === 'connected' ? 'Connected' : 'Error';
  return <span className={`pill pill-tunnel-${tunnel.state}`} data-tunnel-state={tunnel.state}>{label}</span>;
}

/** Write-only: the value goes to the engine (safeStorage on the desktop) and never comes back. */
function SecretForm({ repo, onSaved }: { repo: string; onSaved: () => void }) {
  const client = useClient();
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [msg, setMsg] = useState<string | undefined>();
  const valid = /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
  return (
    <form className="secret-form" onSubmit={async (e) => {
      e.preventDefault();
      try {
        await client.setSecret(repo, name, value);
        setMsg(value ? `Saved ${name}.` : `Deleted ${name}.`);
        setName('');
        setValue('');
        onSaved();
      } catch (err) { setMsg((err as Error).message); }
    }}>
      <input placeholder="NAME" value={name} onChange={(e) => setName(e.target.value.toUpperCase())} aria-label="Secret name" spellCheck={false} />
      <input type="password" placeholder="value (empty deletes)" value={value} onChange={(e) => setValue(e.target.value)} aria-label="Secret value" autoComplete="new-password" />
      <button type="submit" className="btn btn-sm" disabled={!valid}>Save secret</button>
      {msg && <span className="muted small">{msg}</span>}
    </form>
  );
}

/**
 * Settings as the engine reports them. The engine API has no write calls for repositories,
 * webhook secrets, concurrency or retention: those are edited in kiln.config.yml and shown here
 * read-only. Secrets are write-only, and writable only in the desktop app (safeStorage).
 */
export function SettingsView() {
  const client = useClient();
  const repos = useAsync(() => client.listRepositories(), [client]);
  const health = useAsync(() => client.health(), [client]);
  const [tunnel, setTunnel] = useState<TunnelState | undefined>();
  useEngineEvents((e) => { if (e.type === 'tunnel') setTunnel(e.tunnel); });
  const t = tunnel ?? health.data?.tunnel;
  const s = health.data?.settings;

  return (
    <div className="page">
      <header className="page-header"><div><h1>Settings</h1><p className="subtitle">Edited in <code>kiln.config.yml</code>; shown read-only here except secrets.</p></div></header>
      <ErrorBanner error={repos.error ?? health.error} />

      <section className="card section">
        <h2>Webhook tunnel</h2>
        {t ? (
          <div className="kv" data-testid="tunnel">
            <span>State</span><span><TunnelBadge tunnel={t} /></span>
            <span>URL</span><span>{t.state === 'disabled' ? <span className="muted">No tunnel configured (<code>tunnel.url</code>)</span> : <code>{t.url}</code>}</span>
            {t.state === 'connected' && <><span>Since</span><span>{new Date(t.since).toLocaleString()}</span></>}
            {t.state === 'error' && <><span>Problem</span><span className="text-danger">{t.message}</span></>}
          </div>
        ) : <div className="muted">Loading…</div>}
        {health.data && (
          <div className="kv">
            <span>Docker</span><span>{health.data.docker.ok ? <span className="pill pill-accepted">reachable</span> : <span className="pill pill-rejected">{health.data.docker.message ?? 'unreachable'}</span>}</span>
            <span>Version</span><span>Kiln {health.data.version}</span>
          </div>
        )}
      </section>

      <section className="card section">
        <h2>Limits</h2>
        {s ? (
          <div className="kv" data-testid="limits">
            <span>Concurrent jobs</span><span>{s.concurrency.jobs} in total, {s.concurrency.perRepository} per repository</span>
            <span>Artifacts kept</span><span>{formatPeriod(s.retention.artifactsMs)}</span>
            <span>Caches kept</span><span>{formatPeriod(s.retention.cachesMs)}, at most {formatBytes(s.retention.cacheSizeBytes)}</span>
            <span>Workspaces kept</span><span>{formatPeriod(s.retention.workspacesMs)}</span>
          </div>
        ) : (
          <p className="muted">This engine does not report its limits; see <code>concurrency:</code> and <code>retention:</code> in kiln.config.yml.</p>
        )}
        {health.data && <p className="muted small">Queue now: {health.data.queue.running} running, {health.data.queue.queued} waiting.</p>}
      </section>

      <section className="card section">
        <h2>Repositories</h2>
        {repos.data && repos.data.length === 0 && <Empty title="No repositories">Add them under <code>repositories:</code> in kiln.config.yml.</Empty>}
        {repos.data?.map((r) => (
          <div key={r.name} className="repo-settings" data-repo={r.name}>
            <div className="repo-head"><b>{r.name}</b><code className="muted">{r.url}</code></div>
            <div className="kv">
              <span>Default branch</span><span><span className="ref">{r.defaultBranch}</span></span>
              <span>Webhook secrets</span><span>{r.webhookSecretCount === 0 ? <span className="text-danger">none: deliveries cannot be verified</span> : `${r.webhookSecretCount} configured (all accepted, for rotation)`}</span>
              <span>Secrets</span><span>{r.secretNames.length === 0 ? <span className="muted">none</span> : r.secretNames.map((n) => <code key={n} className="secret-name">{n}</code>)}</span>
            </div>
            {client.canWriteSecrets
              ? <SecretForm repo={r.name} onSaved={repos.reload} />
              : <p className="muted small">Secret values are never shown. Set them in kiln.config.yml or in the desktop app.</p>}
          </div>
        ))}
      </section>
    </div>
  );
}
