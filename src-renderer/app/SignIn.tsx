import { useEffect, useState, type ReactNode } from 'react';
import type { ClientAuth } from '../api/api-token.js';
import type { KilnClient } from '../api/kiln-client.js';

type Gate = { view: 'checking' } | { view: 'app' } | { view: 'sign-in'; note?: string };

/**
 * Shows the dashboard, or the sign-in screen while the server wants an API token this tab does not
 * have (the server answers 401: `kiln serve` listens beyond loopback). On loopback, and in the
 * desktop app, the server never answers 401 and this is invisible. `children` gets `signOut` when
 * a token is in use.
 */
export function AuthGate({ client, children }: { client: KilnClient; children: (signOut: (() => void) | undefined) => ReactNode }) {
  const auth = client.auth;
  const [gate, setGate] = useState<Gate>(auth ? { view: 'checking' } : { view: 'app' });
  useEffect(() => {
    if (!auth) return;
    const off = auth.onRequired((refused) => setGate({
      view: 'sign-in',
      note: refused ? 'The server no longer accepts the token this tab had (its server.api-token may have changed). Sign in again.' : undefined,
    }));
    // One request tells whether this tab may see anything; a 401 has switched to sign-in by the time it settles.
    const settle = (): void => setGate((g) => (g.view === 'checking' ? { view: 'app' } : g));
    client.health().then(settle, settle);
    return off;
  }, [client, auth]);
  if (gate.view === 'checking') return <div className="loading sign-in-checking">Connecting to Kiln…</div>;
  if (gate.view === 'sign-in' && auth) return <SignIn auth={auth} note={gate.note} onSignedIn={() => setGate({ view: 'app' })} />;
  const signOut = auth?.signedIn
    ? () => {
      auth.signOut();
      setGate({ view: 'sign-in', note: 'Signed out: this tab no longer keeps the API token.' });
    }
    : undefined;
  return <>{children(signOut)}</>;
}

function SignIn({ auth, note, onSignedIn }: { auth: ClientAuth; note?: string; onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      await auth.signIn(token.trim());
      onSignedIn();
    } catch (err) {
      const code = (err as { code?: string }).code;
      setError(code === 'UNAUTHORIZED'
        ? 'That is not this server\'s API token: check server.api-token in kiln.config.yml on the machine that runs kiln serve.'
        : err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };
  return (
    <div className="sign-in-page">
      <form className="card form sign-in" data-testid="sign-in" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
        <div className="brand sign-in-brand"><img src="./kiln-logo.svg" alt="" width={28} height={28} /><span>Kiln</span></div>
        <h1>Sign in</h1>
        <p className="muted">
          This Kiln server is reachable beyond its own machine, so its dashboard asks for the API token: the value
          of <code>server.api-token</code> in <code>kiln.config.yml</code> on the machine that runs <code>kiln serve</code> (ask
          whoever runs it). This tab keeps it until you sign out or close the tab.
        </p>
        {note && <div className="notice" role="status" data-testid="sign-in-note">{note}</div>}
        <label>
          API token
          <input name="api-token" type="password" value={token} onChange={(e) => setToken(e.target.value)} autoComplete="off" spellCheck={false} autoFocus required />
        </label>
        {error && <div className="form-error" role="alert" data-testid="sign-in-error">{error}</div>}
        <div className="form-actions"><button type="submit" className="btn btn-primary" disabled={busy || token.trim() === ''}>{busy ? 'Checking…' : 'Sign in'}</button></div>
      </form>
    </div>
  );
}

/** The sidebar's button that forgets the token (shown only while one is in use). */
export function SignOutButton({ signOut }: { signOut: () => void }) {
  return <button type="button" className="btn btn-sm sign-out" data-action="sign-out" onClick={signOut}>Sign out</button>;
}
