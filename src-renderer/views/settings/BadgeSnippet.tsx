import { useState } from 'react';
import type { RepositorySettings } from '../../../shared/api/settings-types.js';
import { copyText } from '../debug/TerminalPane.js';

/**
 * The repository's status badge as it will look in a README, and its Markdown to copy. The badge is
 * served at /badges/OWNER/NAME.svg (no sign-in), so the address is the one readers reach: the
 * server's public URL when one is set, else this page's own origin (the desktop app has none to
 * offer: it asks for the public URL instead).
 */
export function BadgeSnippet({ repo, publicUrl }: { repo: RepositorySettings; publicUrl?: string | null }) {
  const [copied, setCopied] = useState(false);
  const origin = window.location.protocol.startsWith('http') ? window.location.origin : undefined;
  const base = (publicUrl || origin)?.replace(/\/+$/, '');
  if (!base) return <div className="kv" data-testid="badge-snippet"><span>Status badge</span><span className="muted">Set the public URL (Commit statuses, above) to get a badge for a README.</span></div>;
  const [owner, name] = repo.name.split('/');
  const image = `${base}/badges/${encodeURIComponent(owner)}/${encodeURIComponent(name ?? '')}.svg`;
  const markdown = `[![build](${image})](${base}/)`;
  return (
    <div className="kv" data-testid="badge-snippet" data-badge-of={repo.name}>
      <span>Status badge</span>
      <span className="badge-snippet">
        <img src={image} alt={`build status of ${repo.name}`} height={20} />{' '}
        <code data-testid="badge-markdown">{markdown}</code>{' '}
        <button type="button" className="btn btn-sm" data-action="copy-badge"
          onClick={() => { copyText(markdown, () => undefined); setCopied(true); setTimeout(() => setCopied(false), 2000); }}>{copied ? 'Copied' : 'Copy Markdown'}</button>
        {!publicUrl && <span className="muted small"> (this page's address; set the public URL for one others can reach)</span>}
      </span>
    </div>
  );
}
