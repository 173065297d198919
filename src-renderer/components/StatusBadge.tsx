import type { Status } from '../../shared/model/status.js';

const LABEL: Record<Status, string> = {
  queued: 'Queued', running: 'Running', passed: 'Passed', failed: 'Failed',
  cancelled: 'Cancelled', timed_out: 'Timed out', skipped: 'Skipped',
};

export function statusLabel(status: Status): string {
  return LABEL[status] ?? status;
}

/** A status glyph: a spinner while running, otherwise a small coloured mark. */
export function StatusIcon({ status, size = 14 }: { status: Status; size?: number }) {
  if (status === 'running') return <span className="spinner" style={{ width: size, height: size }} role="img" aria-label="running" />;
  const glyph = status === 'passed' ? '✓' : status === 'failed' ? '✕' : status === 'cancelled' ? '⊘' : status === 'timed_out' ? '⏱' : status === 'skipped' ? '–' : '•';
  return <span className={`status-icon status-${status}`} style={{ width: size, height: size, fontSize: size * 0.72 }} role="img" aria-label={status}>{glyph}</span>;
}

export function StatusBadge({ status }: { status: Status }) {
  return (
    <span className={`badge badge-${status}`} data-status={status}>
      <StatusIcon status={status} size={12} />
      {statusLabel(status)}
    </span>
  );
}
