import { useEffect, useState } from 'react';
import type { RepositorySettings, SettingsView } from '../../../shared/api/settings-types.js';
import { useClient } from '../../app/hooks.js';
import { SaveOutcome, useSave } from '../settings/use-save.js';
import { ConnectPanel } from './ConnectPanel.js';

/**
 * Commit statuses for one repository: whether reporting is on, the last post's outcome ("statuses
 * posted", "the token lacks permission …"), and the form for the API URL, the token (write-only:
 * stored encrypted, never shown) and per-job statuses.
 */
export function ForgeReportingForm({ repo, onSaved }: { repo: RepositorySettings; onSaved: () => void }) {
  const client = useClient();
  const save = useSave();
  const f = repo.forge;
  const [apiUrl, setApiUrl] = useState(f?.apiUrl ?? 'https://api.github.com');
  const [token, setToken] = useState('');
  const [jobStatuses, setJobStatuses] = useState(f?.jobStatuses ?? false);
  const [prComment, setPrComment] = useState(f?.prComment !== false);
  useEffect(() => { setApiUrl(f?.apiUrl ?? 'https://api.github.com'); setJobStatuses(f?.jobStatuses ?? false); setPrComment(f?.prComment !== false); }, [f?.apiUrl, f?.jobStatuses, f?.prComment]);
  if (!f) return null;
  const changed = apiUrl.trim() !== f.apiUrl || token !== '' || jobStatuses !== f.jobStatuses || prComment !== (f.prComment !== false);
  const last = f.lastOutcome;
  return (
    <div className="forge-settings" data-testid="forge-settings" data-forge-enabled={f.enabled ? 'yes' : 'no'}>
      <div className="kv">
        <span>Commit statuses</span>
        <span data-testid="forge-state">
          {f.enabled ? <span className="pill pill-accepted">on</span> : <span className="muted">off: set a token to post ✓/✗ on commits</span>}
          {f.enabled && <span className="muted small"> {f.kind === 'gitea' ? 'Gitea/Forgejo' : 'GitHub'} · token {f.tokenSource === 'file' ? 'in file' : 'encrypted'}{f.jobStatuses ? ' · one status per job' : ''}</span>}
        </span>
        {last && <><span>Last post</span><span data-testid="forge-last-outcome" className={last.ok ? '' : 'text-danger'}>{last.message} <span className="muted small">{new Date(last.at).toLocaleString()}</span></span></>}
      </div>
      <form className="secret-form" data-testid="forge-form" onSubmit={(e) => {
        e.preventDefault();
        void save.run(() => client.saveRepository({
          name: repo.name, forge: { apiUrl: apiUrl.trim() || null, jobStatuses, prComment, ...(token ? { token } : {}) },
        }), token ? 'Saved; the token is stored encrypted and never shown again.' : 'Saved.', () => { setToken(''); onSaved(); });
      }}>
        <input name="forgeApiUrl" value={apiUrl} onChange={(e) => setApiUrl(e.target.value)} aria-label="Forge API URL" placeholder="https://api.github.com" spellCheck={false} autoComplete="off" />
        <input name="forgeToken" type="password" value={token} onChange={(e) => setToken(e.target.value)} aria-label="Forge API token" placeholder={f.tokenSet ? 'token set (enter a new one to replace it)' : 'API token with Commit statuses: write'} autoComplete="new-password" />
        <label className="check"><input name="forgeJobStatuses" type="checkbox" checked={jobStatuses} onChange={(e) => setJobStatuses(e.target.checked)} /> one status per job</label>
        <label className="check" title="Only when no dashboard URL is set: a failed pull request gets one comment with the failure"><input name="forgePrComment" type="checkbox" checked={prComment} onChange={(e) => setPrComment(e.target.checked)} /> comment on failed pull requests</label>
        <button type="submit" className="btn btn-sm" disabled={save.busy || !changed} data-action="save-forge">Save</button>
        {f.tokenSet && f.tokenSource !== 'file' && (
          <button type="button" className="btn btn-sm btn-danger" disabled={save.busy} data-action="remove-forge-token"
            onClick={() => void save.run(() => client.saveRepository({ name: repo.name, forge: { token: null } }), 'Token removed; statuses are no longer posted.', onSaved)}>Remove token</button>
        )}
      </form>
      <SaveOutcome state={save} />
      <ConnectPanel repo={repo} token={token} apiUrl={apiUrl} onDone={() => { setToken(''); onSaved(); }} />
    </div>
  );
}

/** The dashboard's public URL, which commit statuses link to (none: statuses carry no link). */
export function PublicUrlForm({ settings, onSaved }: { settings: SettingsView; onSaved: () => void }) {
  const client = useClient();
  const save = useSave();
  const saved = settings.publicUrl ?? '';
  const [url, setUrl] = useState(saved);
  useEffect(() => setUrl(saved), [saved]);
  return (
    <>
      <form className="inline-form" data-testid="public-url-form" onSubmit={(e) => {
        e.preventDefault();
        void save.run(() => client.saveServerSettings({ publicUrl: url.trim() || null }), url.trim() ? 'Saved; new statuses link to runs here.' : 'Removed; statuses carry no link.', onSaved);
      }}>
        <label className="grow"><span>Dashboard URL for your team <small className="muted">commit statuses link here; leave empty when the dashboard is not reachable</small></span>
          <input name="publicUrl" type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://kiln.team.example" spellCheck={false} autoComplete="off" /></label>
        <button type="submit" className="btn" disabled={save.busy || url.trim() === saved} data-action="save-public-url">Save</button>
      </form>
      <SaveOutcome state={save} />
    </>
  );
}
