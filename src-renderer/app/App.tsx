import { useEffect, useState } from 'react';
import type { Health, TunnelState } from '../../shared/api/engine-api.js';
import { DOCKER_INSTALL_URL, DOCKER_START_ADVICE } from '../../shared/docker-advice.js';
import type { KilnClient } from '../api/kiln-client.js';
import { DiskBanner } from '../components/DiskBanner.js';
import { ArtifactsView } from '../views/ArtifactsView.js';
import { DeliveriesView } from '../views/DeliveriesView.js';
import { RunsList } from '../views/RunsList.js';
import { SettingsView } from '../views/SettingsView.js';
import { StorageView } from '../views/StorageView.js';
import { EnginesView } from '../views/EnginesView.js';
import { TriggerView } from '../views/TriggerView.js';
import { RunView } from '../views/run/RunView.js';
import { TimingView } from '../views/run/TimingView.js';
import { TestsView } from '../views/tests/TestsView.js';
import { SchedulesView } from '../views/SchedulesView.js';
import { ClientContext, useAsync, useClient, useEngineEvents, useHashRoute, useThrottled } from './hooks.js';
import { href, type Route } from './route.js';
import { SignOutButton } from './SignIn.js';

const NAV: Array<{ view: Route['view']; label: string; icon: string; to: Route }> = [
  { view: 'runs', label: 'Runs', icon: '▤', to: { view: 'runs' } },
  { view: 'trigger', label: 'Run pipeline', icon: '▶', to: { view: 'trigger' } },
  { view: 'schedules', label: 'Schedules', icon: '◷', to: { view: 'schedules' } },
  { view: 'deliveries', label: 'Deliveries', icon: '⇄', to: { view: 'deliveries' } },
  { view: 'storage', label: 'Storage', icon: '◫', to: { view: 'storage' } },
  { view: 'engines', label: 'Engines', icon: '⛁', to: { view: 'engines' } },
  { view: 'settings', label: 'Settings', icon: '⚙', to: { view: 'settings' } },
];

/** What `kiln serve` prints when Docker does not answer, as a line with its install link. */
function DockerAdvice() {
  const start = DOCKER_START_ADVICE.charAt(0).toUpperCase() + DOCKER_START_ADVICE.slice(1);
  return (
    <div className="muted small docker-advice" data-testid="docker-advice">
      {start} or <a href={DOCKER_INSTALL_URL} target="_blank" rel="noopener noreferrer">install it</a>; jobs wait until Docker answers.
    </div>
  );
}

/** How often the sidebar reads the engines' health again when no run event asked for it. */
const HEALTH_REFRESH_MS = 5000;

function EngineStatus() {
  const client = useClient();
  const health = useAsync<Health>(() => client.health(), [client]);
  const [tunnel, setTunnel] = useState<TunnelState | undefined>();
  const refresh = useThrottled(health.reload, 1000);
  useEngineEvents((e) => {
    if (e.type === 'tunnel') setTunnel(e.tunnel);
    if (e.type === 'run' || e.type === 'job') refresh();
  });
  // Engines go up and down, and are added or removed in Settings, without any run event: the counts
  // below are read again every few seconds too.
  useEffect(() => {
    const timer = setInterval(refresh, HEALTH_REFRESH_MS);
    return () => clearInterval(timer);
  }, [refresh]);
  const h = health.data;
  const t = tunnel ?? h?.tunnel;
  // Engines removed in Settings that still finish jobs are listed too; they are not counted here.
  const configured = h?.engines?.filter((e) => !e.retiring);
  return (
    <div className="engine-status" data-testid="engine-status">
      <div><span className={`dot ${health.error ? 'dot-bad' : h?.docker.ok ? 'dot-ok' : 'dot-warn'}`} /><span title={h?.docker.engine ? `${h.docker.engine}${h.docker.message ? ` — ${h.docker.message}` : ''}` : undefined}>{health.error ? 'Kiln server unreachable' : h?.docker.ok === false ? 'Docker unreachable' : 'Docker ready'}</span></div>
      {!health.error && h?.docker.ok === false && <DockerAdvice />}
      {configured && configured.length > 1
        ? <div className="muted small" data-testid="docker-engine"><a href={href({ view: 'engines' })}>{configured.filter((e) => e.state === 'up').length} of {configured.length} engines up</a></div>
        : h?.docker.engine && <div className="muted small" data-testid="docker-engine">{h.docker.engine}</div>}
      <div><span className={`dot ${t?.state === 'connected' ? 'dot-ok' : t?.state === 'error' ? 'dot-bad' : t?.state === 'connecting' ? 'dot-warn' : 'dot-off'}`} />Tunnel {t?.state ?? '…'}</div>
      {h && <div className="muted">{h.queue.running} running{h.queue.kept ? ` (${h.queue.kept} kept for debug)` : ''} · {h.queue.queued} queued</div>}
    </div>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.view) {
    case 'run': return <RunView key={route.runId} runId={route.runId} />;
    case 'job': return <RunView key={route.runId} runId={route.runId} jobId={route.jobId} line={route.line} />;
    case 'artifacts': return <ArtifactsView runId={route.runId} />;
    case 'tests': return <TestsView key={route.runId} runId={route.runId} search={route.search} />;
    case 'timing': return <TimingView key={route.runId} runId={route.runId} />;
    case 'trigger': return <TriggerView />;
    case 'deliveries': return <DeliveriesView />;
    case 'storage': return <StorageView />;
    case 'engines': return <EnginesView />;
    case 'settings': return <SettingsView />;
    case 'schedules': return <SchedulesView />;
    default: return <RunsList />;
  }
}

/** `signOut`: set while the tab uses an API token (a dashboard opened from another machine). */
export function App({ client, signOut }: { client: KilnClient; signOut?: () => void }) {
  const route = useHashRoute();
  const section = route.view === 'run' || route.view === 'job' || route.view === 'artifacts' || route.view === 'tests' || route.view === 'timing' ? 'runs' : route.view;
  return (
    <ClientContext.Provider value={client}>
      <div className="shell">
        <nav className="sidebar">
          <a className="brand" href={href({ view: 'runs' })}>
            <img src="./kiln-logo.svg" alt="" width={28} height={28} />
            <span>Kiln</span>
          </a>
          {NAV.map((n) => (
            <a key={n.view} href={href(n.to)} className={`nav-item${section === n.view ? ' active' : ''}`} data-nav={n.view}>
              <span className="nav-icon">{n.icon}</span>{n.label}
            </a>
          ))}
          <div className="sidebar-spacer" />
          <EngineStatus />
          <div className="transport muted">via {client.transport === 'ipc' ? 'desktop IPC' : 'HTTP'}</div>
          {signOut && <SignOutButton signOut={signOut} />}
        </nav>
        <main className="content"><DiskBanner /><Page route={route} /></main>
      </div>
    </ClientContext.Provider>
  );
}
