import { useEffect, useState } from 'react';
import { useAsync, useClient } from '../app/hooks.js';
import { href } from '../app/route.js';
import { Empty, ErrorBanner } from '../components/ErrorBanner.js';

/** Manual trigger: a configured repository, and a branch or a commit SHA (or both). */
export function TriggerView() {
  const client = useClient();
  const repos = useAsync(() => client.listRepositories(), [client]);
  const [repo, setRepo] = useState('');
  const [branch, setBranch] = useState('');
  const [sha, setSha] = useState('');
  const [debug, setDebug] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | undefined>();
  const [notice, setNotice] = useState<string | undefined>();

  useEffect(() => {
    const first = repos.data?.[0];
    if (first && !repo) { setRepo(first.name); setBranch(first.defaultBranch); }
  }, [repos.data, repo]);

  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setNotice(undefined);
    try {
      const { runIds } = await client.triggerRun({ repo, branch: branch.trim() || undefined, sha: sha.trim() || undefined, ...(debug ? { debug } : {}) });
      if (runIds.length === 0) setNotice('The pipeline started no run for this commit (its `on:` triggers or job conditions excluded it).');
      else window.location.hash = href({ view: 'run', runId: runIds[0] });
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };

  const selected = repos.data?.find((r) => r.name === repo);
  return (
    <div className="page page-narrow">
      <header className="page-header"><div><h1>Run a pipeline</h1><p className="subtitle">Runs the repository's .kiln.yml as a <b>manual</b> event.</p></div></header>
      <ErrorBanner error={error ?? repos.error} />
      {notice && <div className="notice">{notice}</div>}
      {repos.data && repos.data.length === 0 && <Empty title="No repositories configured">Add one under <code>repositories:</code> in kiln.config.yml.</Empty>}
      {repos.data && repos.data.length > 0 && (
        <form className="card form" onSubmit={(e) => { e.preventDefault(); void submit(); }} data-testid="trigger-form">
          <label>
            <span>Repository</span>
            <select name="repo" value={repo} onChange={(e) => { setRepo(e.target.value); setBranch(repos.data?.find((r) => r.name === e.target.value)?.defaultBranch ?? ''); }}>
              {repos.data.map((r) => <option key={r.name} value={r.name}>{r.name}</option>)}
            </select>
            {selected && <small className="muted">{selected.url}</small>}
          </label>
          <label>
            <span>Branch</span>
            <input name="branch" value={branch} onChange={(e) => setBranch(e.target.value)} placeholder={selected?.defaultBranch ?? 'main'} autoComplete="off" />
          </label>
          <label>
            <span>Commit SHA <small className="muted">(optional: wins over the branch head for checkout)</small></span>
            <input name="sha" value={sha} onChange={(e) => setSha(e.target.value)} placeholder="e.g. 3f2c1a9" pattern="[0-9a-fA-F]{4,40}" autoComplete="off" spellCheck={false} />
          </label>
          <label className="debug-toggle">
            <span><input type="checkbox" name="debug" checked={debug} onChange={(e) => setDebug(e.target.checked)} /> With debug: a job that fails stays up with a terminal into it</span>
          </label>
          <div className="form-actions">
            <button type="submit" className="btn btn-primary" disabled={busy || !repo || (!branch.trim() && !sha.trim())} data-action="trigger">
              {busy ? 'Starting…' : '▶ Run pipeline'}
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
