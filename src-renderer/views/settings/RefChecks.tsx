import type { RefCheck } from '../../../shared/api/engine-api.js';
import { relativeTime } from '../../app/format.js';

/**
 * Catch-up per repository, from health: when its remote refs were last listed, how that went (a
 * failing remote with git's reason and the next retry), and how many pushes were caught up.
 */
export function RefChecks({ checks }: { checks: RefCheck[] }) {
  if (checks.length === 0) return null;
  return (
    <table className="runs-table" data-testid="ref-checks">
      <thead><tr><th>Repository</th><th>New pushes by</th><th>Remote refs last listed</th><th>Caught up</th></tr></thead>
      <tbody>
        {checks.map((c) => (
          <tr key={c.repo} data-ref-check={c.repo} data-result={c.result}>
            <td>{c.repo}</td>
            <td>{c.mode === 'poll' ? 'polling' : 'webhook (+ catch-up)'}</td>
            <td>
              {c.result === 'pending' && <span className="muted">not yet</span>}
              {c.result === 'ok' && c.lastCheckedAt !== undefined && <span className="pill pill-accepted" title={new Date(c.lastCheckedAt).toLocaleString()}>ok {relativeTime(c.lastCheckedAt)}</span>}
              {c.result === 'failing' && (
                <span><span className="pill pill-rejected">failing ×{c.failures}</span> <span className="text-danger small">{c.error}</span>
                  {c.nextCheckAt !== undefined && <span className="muted small"> — next try {new Date(c.nextCheckAt).toLocaleTimeString()}</span>}</span>
              )}
            </td>
            <td className="num">{c.caughtUp}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
