import { useState } from 'react';
import type { ConnectReport, RepositorySettings } from '../../../shared/api/settings-types.js';
import { useClient } from '../../app/hooks.js';

const STEP_LABEL = { repository: 'Repository', channel: 'Tunnel channel', secret: 'Webhook secret', webhook: 'Forge webhook', ping: 'Ping' } as const;

function CopyValue({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <>
      <span>{label}</span>
      <span className="copy-value">
        <code data-manual={label}>{value}</code>
        <button type="button" className="btn btn-sm" aria-label={`Copy ${label}`} onClick={() => {
          void navigator.clipboard?.writeText(value).then(() => setCopied(true), () => setCopied(false));
        }}>{copied ? 'Copied' : 'Copy'}</button>
      </span>
    </>
  );
}

/**
 * Connect in one step: the engine creates the smee channel if needed, a webhook secret, the forge's
 * webhook, and checks it with a ping. Each step's result shows; without a token, the exact values to
 * paste into the forge's webhook form (the secret is shown this once).
 */
export function ConnectPanel({ repo, token, apiUrl, onDone }: { repo: RepositorySettings; token: string; apiUrl: string; onDone: () => void }) {
  const client = useClient();
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<ConnectReport | undefined>();
  const [error, setError] = useState<string | undefined>();
  if (!client.connectRepository) return null;
  const connect = client.connectRepository.bind(client);
  return (
    <div className="connect-panel" data-testid="connect-panel">
      <button type="button" className="btn btn-sm btn-primary" disabled={busy} data-action="connect-repository" onClick={() => {
        setBusy(true);
        setError(undefined);
        setReport(undefined);
        connect({ name: repo.name, ...(token ? { token } : {}), ...(apiUrl.trim() && apiUrl.trim() !== repo.forge?.apiUrl ? { apiUrl: apiUrl.trim() } : {}) })
          .then((r) => { setReport(r); onDone(); }, (e: unknown) => setError(e instanceof Error ? e.message : String(e)))
          .finally(() => setBusy(false));
      }}>{busy ? 'Connecting…' : 'Connect webhook'}</button>
      <span className="muted small"> creates the tunnel channel, a secret and the forge's webhook, then pings it</span>
      {error && <p className="form-error" role="alert">{error}</p>}
      {report && (
        <ol className="connect-steps" data-testid="connect-steps" data-ok={report.ok ? 'yes' : 'no'}>
          {report.steps.map((s) => (
            <li key={s.step} data-step={s.step} data-ok={s.ok ? 'yes' : 'no'} className={s.ok ? '' : 'text-danger'}>
              {s.ok ? '✓' : '✗'} <b>{STEP_LABEL[s.step]}</b>: {s.message}
            </li>
          ))}
        </ol>
      )}
      {report?.manual && (
        <div className="kv" data-testid="connect-manual">
          <span /><span>No token that may manage webhooks: add the webhook on the forge with these values (the secret is shown only now).</span>
          <CopyValue label="Payload URL" value={report.manual.payloadUrl} />
          <CopyValue label="Content type" value={report.manual.contentType} />
          <CopyValue label="Secret" value={report.manual.secret} />
          <span>Events</span><span>{report.manual.events.join(', ')}</span>
        </div>
      )}
    </div>
  );
}
