import { useState } from 'react';
import type { TunnelState } from '../../shared/api/engine-api.js';
import { useAsync, useClient, useEngineEvents } from '../app/hooks.js';
import { Empty, ErrorBanner } from '../components/ErrorBanner.js';
import { AddRepositoryForm, RepositoryEditor } from './settings/RepositoryForms.js';
import { BadgeSnippet } from './settings/BadgeSnippet.js';
import { AddEngineForm, EngineEditor } from './settings/EngineForms.js';
import { RefChecks } from './settings/RefChecks.js';
import { LimitsForm, TunnelForm } from './settings/ServerForms.js';
import { PublicUrlForm } from './forge/ForgeSettings.js';

/**
 * Settings, editable over either transport: every save goes to the engine, which writes
 * kiln.config.yml (keeping its comments) and applies the change at once. Secret values are
 * write-only: the engine stores them encrypted and only their names come back.
 */
export function SettingsView() {
  const client = useClient();
  const settings = useAsync(() => client.getSettings(), [client]);
  const health = useAsync(() => client.health(), [client]);
  const [tunnel, setTunnel] = useState<TunnelState | undefined>();
  useEngineEvents((e) => { if (e.type === 'tunnel') setTunnel(e.tunnel); });
  const s = settings.data;
  // A save answers with the state at that moment; live events carry the rest.
  const t = tunnel ?? s?.tunnel.state;
  const reload = (): void => {
    setTunnel(undefined);
    settings.reload();
  };

  return (
    <div className="page">
      <header className="page-header"><div><h1>Settings</h1>
        <p className="subtitle">
          Saved to <code>{s?.configFile ?? 'kiln.config.yml'}</code>, comments kept, and applied at once.
          Secret values are write-only: stored encrypted, never shown.
        </p>
      </div></header>
      <ErrorBanner error={settings.error ?? health.error} />

      <section className="card section">
        <h2>Webhook tunnel</h2>
        {s && t ? <TunnelForm settings={s} tunnel={t} onSaved={reload} /> : <div className="muted">Loading…</div>}
        {health.data && (
          <div className="kv">
            <span>Docker</span><span>{health.data.docker.ok ? <span className="pill pill-accepted">reachable</span> : <span className="pill pill-rejected pill-free">{health.data.docker.message ?? 'unreachable'}</span>}</span>
            <span>Version</span><span>Kiln {health.data.version}</span>
          </div>
        )}
      </section>

      <section className="card section">
        <h2>Limits</h2>
        {s ? <LimitsForm settings={s} onSaved={reload} /> : <div className="muted">Loading…</div>}
        {health.data && <p className="muted small">Queue now: {health.data.queue.running} running, {health.data.queue.queued} queued{health.data.queue.waitingOnNeeds ? `, ${health.data.queue.waitingOnNeeds} waiting on needs` : ''}.</p>}
      </section>

      <section className="card section">
        <h2>Commit statuses</h2>
        {s ? <PublicUrlForm settings={s} onSaved={reload} /> : <div className="muted">Loading…</div>}
      </section>

      <section className="card section">
        <h2>Repositories</h2>
        {s && s.repositories.length === 0 && <Empty title="No repositories">Add the first one below; point its GitHub webhook at the tunnel with the same secret.</Empty>}
        {/* Keyed by name and URL so that a saved change re-seeds the form fields. */}
        {s?.repositories.map((r) => (
          <div key={`${r.name}|${r.url}|${r.defaultBranch}`}>
            <RepositoryEditor repo={r} onSaved={reload} />
            <BadgeSnippet repo={r} publicUrl={s.publicUrl} />
          </div>
        ))}
        {health.data?.refChecks && <RefChecks checks={health.data.refChecks} />}
        <h3 className="subhead">Add a repository</h3>
        <AddRepositoryForm onSaved={reload} />
      </section>

      <section className="card section" data-testid="engine-settings">
        <h2>Docker engines</h2>
        <p className="muted small">
          {s?.engines?.length
            ? 'Jobs run on these engines only. Saves apply at once: a new engine takes jobs once it answers; a removed one takes no new job and finishes the ones it runs.'
            : 'None listed: jobs run on the engine the docker command uses. Adding one replaces it — add that engine too if it should keep taking jobs.'}
          {' '}Certificates and keys are stored encrypted and never shown again.
        </p>
        {/* Keyed by everything shown, so that a saved change re-seeds the fields. */}
        {s?.engines?.map((e) => <EngineEditor key={JSON.stringify(e)} engine={e} onSaved={reload} />)}
        <h3 className="subhead">Add an engine</h3>
        <AddEngineForm onSaved={reload} />
      </section>
    </div>
  );
}
