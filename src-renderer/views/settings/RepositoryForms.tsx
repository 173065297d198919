import { useEffect, useState } from 'react';
import type { RepositorySettings } from '../../../shared/api/settings-types.js';
import { PRIORITIES, type Priority } from '../../../shared/model/status.js';
import { useClient } from '../../app/hooks.js';
import { durationText, SaveOutcome, useSave } from './use-save.js';
import { ENV_NAME } from '../../../shared/model/env-name.js';
import { ForgeReportingForm } from '../forge/ForgeSettings.js';


/**
 * A new repository: name, clone URL or path, default branch, and how Kiln learns of pushes: a
 * webhook (its first secret, write-only) or polling — no secret, for repositories whose settings
 * you cannot change (no admin rights) or plain git servers without webhooks.
 */
export function AddRepositoryForm({ onSaved }: { onSaved: () => void }) {
  const client = useClient();
  const save = useSave();
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [branch, setBranch] = useState('main');
  const [hook, setHook] = useState('');
  const [mode, setMode] = useState<'webhook' | 'poll'>('webhook');
  return (
    <form className="grid-form add-repo" data-testid="add-repository" onSubmit={(e) => {
      e.preventDefault();
      void save.run(() => client.saveRepository({
        name: name.trim(), url: url.trim(), defaultBranch: branch.trim() || undefined, ...(hook && mode === 'webhook' ? { addWebhookSecrets: [hook] } : {}),
      }), mode === 'poll' ? `Added ${name.trim()}; Kiln polls it every 60 s.` : `Added ${name.trim()}.`, () => { setName(''); setUrl(''); setBranch('main'); setHook(''); onSaved(); });
    }}>
      <label><span>Repository <small className="muted">owner/name</small></span>
        <input name="repoName" value={name} onChange={(e) => setName(e.target.value)} placeholder="acme/web" spellCheck={false} autoComplete="off" required /></label>
      <label><span>Clone URL or local path</span>
        <input name="repoUrl" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://github.com/acme/web.git" spellCheck={false} autoComplete="off" required /></label>
      <label><span>Default branch</span>
        <input name="repoBranch" value={branch} onChange={(e) => setBranch(e.target.value)} spellCheck={false} autoComplete="off" /></label>
      <label><span>New pushes by</span>
        <select name="repoMode" value={mode} onChange={(e) => setMode(e.target.value as 'webhook' | 'poll')}>
          <option value="webhook">webhook (needs admin rights on the repository)</option>
          <option value="poll">poll (no webhook: Kiln lists the refs every 60 s)</option>
        </select></label>
      {mode === 'webhook' ? (
        <label><span>Webhook secret <small className="muted">as set on GitHub</small></span>
          <input name="repoWebhookSecret" type="password" value={hook} onChange={(e) => setHook(e.target.value)} autoComplete="new-password" /></label>
      ) : <p className="muted small" data-poll-note>Kiln asks the remote (git ls-remote, with the repository&apos;s credentials) every 60 s and builds what moved; change it with <i>Poll every</i> on the repository once added.</p>}
      <div className="grid-form-actions">
        <SaveOutcome state={save} />
        <button type="submit" className="btn btn-primary" disabled={save.busy || !name.trim() || !url.trim()} data-action="add-repository">Add repository</button>
      </div>
    </form>
  );
}

function SourceTag({ source }: { source?: 'file' | 'vault' }) {
  if (!source) return null;
  return <span className="muted small" title={source === 'vault' ? 'stored encrypted by Kiln' : 'written in kiln.config.yml'}>{source === 'vault' ? 'encrypted' : 'in file'}</span>;
}

/**
 * One repository: URL and branch, webhook rate limit, priority by branch, webhook secrets (rotate:
 * add the new, remove the old), job secrets, removal.
 */
export function RepositoryEditor({ repo, onSaved }: { repo: RepositorySettings; onSaved: () => void }) {
  const client = useClient();
  const main = useSave();
  const hooks = useSave();
  const secrets = useSave();
  const limits = useSave();
  const [url, setUrl] = useState(repo.url);
  const [rate, setRate] = useState(repo.rateLimitPerMinute !== undefined ? `${repo.rateLimitPerMinute}/min` : '');
  const [glob, setGlob] = useState('');
  const [level, setLevel] = useState<Priority>('high');
  const [branch, setBranch] = useState(repo.defaultBranch);
  const [newHook, setNewHook] = useState('');
  const [secretName, setSecretName] = useState('');
  const [secretValue, setSecretValue] = useState('');
  const [confirming, setConfirming] = useState(false);
  const save = (state: typeof main, input: Omit<Parameters<typeof client.saveRepository>[0], 'name'>, done: string, after?: () => void): void => {
    void state.run(() => client.saveRepository({ name: repo.name, ...input }), done, () => { after?.(); onSaved(); });
  };
  const secretList = repo.secrets ?? repo.secretNames.map((name) => ({ name, source: undefined }));
  const priorities = Object.entries(repo.priority ?? {});
  const savedRate = repo.rateLimitPerMinute !== undefined ? `${repo.rateLimitPerMinute}/min` : '';
  const hookList = repo.webhookSecrets ?? [];

  return (
    <div className="repo-settings" data-repo={repo.name}>
      <div className="repo-head">
        <b>{repo.name}</b><code className="muted">{repo.url}</code>
        <span className="grow" />
        {confirming ? (
          <span className="confirm">Remove {repo.name}? Its runs stay in the history.
            <button type="button" className="btn btn-sm btn-danger" data-action="confirm-remove-repository"
              onClick={() => void main.run(() => client.removeRepository(repo.name), `Removed ${repo.name}.`, onSaved)}>Remove</button>
            <button type="button" className="btn btn-sm" onClick={() => setConfirming(false)}>Keep</button>
          </span>
        ) : <button type="button" className="btn btn-sm btn-danger" data-action="remove-repository" onClick={() => setConfirming(true)}>Remove…</button>}
      </div>

      <form className="inline-form" onSubmit={(e) => { e.preventDefault(); save(main, { url: url.trim(), defaultBranch: branch.trim() }, 'Saved.'); }}>
        <label className="grow"><span>Clone URL or local path</span>
          <input name="url" value={url} onChange={(e) => setUrl(e.target.value)} spellCheck={false} autoComplete="off" /></label>
        <label><span>Default branch</span>
          <input name="defaultBranch" value={branch} onChange={(e) => setBranch(e.target.value)} spellCheck={false} autoComplete="off" /></label>
        <button type="submit" className="btn" disabled={main.busy || (url === repo.url && branch === repo.defaultBranch)} data-action="save-repository">Save</button>
      </form>
      <SaveOutcome state={main} />

      <div className="kv">
        <span>Webhook secrets</span>
        <span>
          {repo.webhookSecretCount === 0 ? <span className="muted">none: polled (webhook deliveries are refused)</span> : `${repo.webhookSecretCount} configured (all accepted, for rotation)`}
          <span className="chips">
            {hookList.map((w, i) => (
              <span key={w.id} className="chip" data-webhook-secret={w.id}>
                <span className="pill pill-accepted">set</span> #{i + 1} <SourceTag source={w.source} />
                {w.addedAt && <span className="muted small">added {new Date(w.addedAt).toLocaleDateString()}</span>}
                <button type="button" className="chip-remove" aria-label={`Remove webhook secret #${i + 1}`} disabled={hooks.busy}
                  onClick={() => save(hooks, { removeWebhookSecrets: [w.id] }, `Removed webhook secret #${i + 1}.`)}>×</button>
              </span>
            ))}
          </span>
        </span>
        <span>Secrets</span>
        <span className="chips">
          {secretList.length === 0 && <span className="muted">none</span>}
          {secretList.map((s) => (
            <span key={s.name} className="chip" data-secret={s.name}>
              <code className="secret-name">{s.name}</code><span className="pill pill-accepted">set</span> <SourceTag source={s.source} />
              <button type="button" className="chip-remove" aria-label={`Remove secret ${s.name}`} disabled={secrets.busy}
                onClick={() => save(secrets, { secrets: { [s.name]: null } }, `Removed ${s.name}.`)}>×</button>
            </span>
          ))}
        </span>
        <span>Rate limit</span>
        <span>{savedRate ? `${savedRate} webhook triggers (more get 429 with Retry-After)` : <span className="muted">unlimited</span>}</span>
        <span>Priority by branch</span>
        <span className="chips">
          {priorities.length === 0 && <span className="muted">as each pipeline says</span>}
          {priorities.map(([g, p]) => (
            <span key={g} className="chip" data-priority={g}>
              <code>{g}</code> → <b>{p}</b>
              <button type="button" className="chip-remove" aria-label={`Remove the priority of ${g}`} disabled={limits.busy}
                onClick={() => save(limits, { priority: { [g]: null } }, `Removed the priority of ${g}.`)}>×</button>
            </span>
          ))}
        </span>
      </div>

      <form className="secret-form" data-testid="set-rate-limit" onSubmit={(e) => {
        e.preventDefault();
        save(limits, { rateLimit: rate.trim() || null }, rate.trim() ? `Webhook triggers limited to ${rate.trim()}.` : 'Rate limit removed.');
      }}>
        <input name="rateLimit" placeholder="unlimited, or e.g. 30/min" value={rate} onChange={(e) => setRate(e.target.value)} aria-label="Webhook rate limit" spellCheck={false} autoComplete="off" />
        <button type="submit" className="btn btn-sm" disabled={limits.busy || rate.trim() === savedRate} data-action="set-rate-limit">Save rate limit</button>
      </form>
      <form className="secret-form" data-testid="set-priority" onSubmit={(e) => {
        e.preventDefault();
        save(limits, { priority: { [glob.trim()]: level } }, `Runs of ${glob.trim()} now have ${level} priority.`, () => setGlob(''));
      }}>
        <input name="priorityGlob" placeholder="branch or glob, e.g. release/*" value={glob} onChange={(e) => setGlob(e.target.value)} aria-label="Branch glob" spellCheck={false} autoComplete="off" />
        <select name="priorityLevel" value={level} onChange={(e) => setLevel(e.target.value as Priority)} aria-label="Priority">
          {[...PRIORITIES].reverse().map((p) => <option key={p} value={p}>{p}</option>)}
        </select>
        <button type="submit" className="btn btn-sm" disabled={limits.busy || glob.trim() === ''} data-action="set-priority">Set priority</button>
      </form>
      <SaveOutcome state={limits} />

      <form className="secret-form" data-testid="add-webhook-secret" onSubmit={(e) => {
        e.preventDefault();
        save(hooks, { addWebhookSecrets: [newHook] }, 'Webhook secret added; the others stay accepted until you remove them.', () => setNewHook(''));
      }}>
        <input type="password" name="webhookSecret" placeholder="new webhook secret" value={newHook} onChange={(e) => setNewHook(e.target.value)} aria-label="New webhook secret" autoComplete="new-password" />
        <button type="submit" className="btn btn-sm" disabled={hooks.busy || newHook === ''} data-action="add-webhook-secret">Add webhook secret</button>
      </form>
      <SaveOutcome state={hooks} />

      <form className="secret-form" data-testid="set-secret" onSubmit={(e) => {
        e.preventDefault();
        save(secrets, { secrets: { [secretName]: secretValue } }, `Saved ${secretName}; its value is never shown again.`, () => { setSecretName(''); setSecretValue(''); });
      }}>
        <input name="secretName" placeholder="NAME" value={secretName} onChange={(e) => setSecretName(e.target.value.toUpperCase())} aria-label="Secret name" spellCheck={false} autoComplete="off" />
        <input name="secretValue" type="password" placeholder="value" value={secretValue} onChange={(e) => setSecretValue(e.target.value)} aria-label="Secret value" autoComplete="new-password" />
        <button type="submit" className="btn btn-sm" disabled={secrets.busy || !ENV_NAME.test(secretName) || secretValue === ''} data-action="set-secret">Save secret</button>
      </form>
      <SaveOutcome state={secrets} />
      <RepositoryBuildForm repo={repo} onSaved={onSaved} />
      <ForgeReportingForm repo={repo} onSaved={onSaved} />
    </div>
  );
}

/**
 * How a repository is built beyond its pipeline: how often a poll-only repository is listed, how many
 * changed files a push may have before path filters treat it as "everything changed", and whether
 * every failed job is kept for a debug terminal. Only edited fields are sent; an empty field
 * restores the default (and leaves kiln.config.yml).
 */
function RepositoryBuildForm({ repo, onSaved }: { repo: RepositorySettings; onSaved: () => void }) {
  const client = useClient();
  const save = useSave();
  const saved = { poll: repo.pollIntervalMs !== undefined ? durationText(repo.pollIntervalMs) : '', files: repo.maxChangedFiles !== undefined ? String(repo.maxChangedFiles) : '', debug: repo.debugFailures === true };
  const [poll, setPoll] = useState(saved.poll);
  const [files, setFiles] = useState(saved.files);
  const [debug, setDebug] = useState(saved.debug);
  useEffect(() => { setPoll(saved.poll); setFiles(saved.files); setDebug(saved.debug); }, [saved.poll, saved.files, saved.debug]);
  const changed = poll.trim() !== saved.poll || files.trim() !== saved.files || debug !== saved.debug;
  return (
    <form className="grid-form repo-builds" data-testid="repository-builds" onSubmit={(e) => {
      e.preventDefault();
      // The count goes as typed (the engine names the field when it is not a whole number).
      void save.run(() => client.saveRepository({
        name: repo.name,
        ...(poll.trim() !== saved.poll ? { pollInterval: poll.trim() || null } : {}),
        ...(files.trim() !== saved.files ? { maxChangedFiles: files.trim() === '' ? null : Number(files) } : {}),
        ...(debug !== saved.debug ? { debugFailures: debug } : {}),
      }), 'Saved.', onSaved);
    }}>
      <label><span>Poll every <small className="muted">{repo.webhookSecretCount === 0 ? 'polled: no webhook secret' : 'only without webhook secrets'}; default 60s</small></span>
        <input name="pollInterval" value={poll} onChange={(e) => setPoll(e.target.value)} placeholder="60s" spellCheck={false} autoComplete="off" /></label>
      <label><span>Max changed files <small className="muted">more counts as everything changed; default 3000</small></span>
        <input name="maxChangedFiles" type="number" min={1} value={files} onChange={(e) => setFiles(e.target.value)} placeholder="3000" autoComplete="off" /></label>
      <label className="check"><input name="debugFailures" type="checkbox" checked={debug} onChange={(e) => setDebug(e.target.checked)} />
        <span>Keep every failed job for a debug terminal <small className="muted">as if each run had debug</small></span></label>
      <div className="grid-form-actions">
        <SaveOutcome state={save} />
        <button type="submit" className="btn" disabled={save.busy || !changed} data-action="save-repository-builds">Save</button>
      </div>
    </form>
  );
}
