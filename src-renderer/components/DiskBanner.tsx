import { useEffect } from 'react';
import type { Health } from '../../shared/api/engine-api.js';
import { useAsync, useClient } from '../app/hooks.js';
import { href } from '../app/route.js';

/** How often the banner asks the engine about free space (the guard itself samples every few seconds). */
const POLL_MS = 5_000;

/**
 * Shown on every page while the engine's disk guard holds new jobs back: why (free space against
 * the threshold, or Docker's own storage), and a link to the Storage page to free space.
 */
export function DiskBanner() {
  const client = useClient();
  const health = useAsync<Health>(() => client.health(), [client]);
  const { reload } = health;
  useEffect(() => {
    const timer = setInterval(reload, POLL_MS);
    return () => clearInterval(timer);
  }, [reload]);
  const disk = health.data?.disk;
  if (!disk || disk.ok) return null;
  return (
    <div className="notice disk-banner" role="alert" data-testid="disk-banner">
      <strong>Low disk space — no new job starts.</strong>{' '}
      <span>{disk.message ?? 'The disk is full'}.</span>{' '}
      {disk.databaseExclusive && <span>The database was opened on a full disk: changes are saved once there is room. </span>}
      Running jobs finish; queued runs start by themselves once there is room. <a href={href({ view: 'storage' })}>Free space on the Storage page</a>.
    </div>
  );
}
