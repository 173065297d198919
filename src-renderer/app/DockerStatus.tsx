/**
 * The sidebar's first line: whether the engines jobs run on answer, and, when none does, advice that
 * fits the engine that is down. Starting Docker helps only an engine on this machine's socket; for
 * one on another host (an address added in Settings) the line names it and why it does not answer,
 * and points at the Engines page, since "start Docker" would be wrong advice there.
 */
import type { Health } from '../../shared/api/engine-api.js';
import { DOCKER_INSTALL_URL, DOCKER_START_COMMAND } from '../../shared/docker-advice.js';
import type { EngineInfo } from '../../shared/model/engine.js';
import { href } from './route.js';

/** An engine on this machine's Docker socket: the one that starting Docker here brings up. */
export const isLocalSocket = (address: string): boolean => /^(unix|npipe):\/\//.test(address);

/** The engines that do not answer (the pool's, without those retiring); empty when every one does. */
export function engineTrouble(h: Health): { down: EngineInfo[]; local: boolean; label: string } {
  const configured = (h.engines ?? []).filter((e) => !e.retiring);
  const down = configured.filter((e) => e.state !== 'up');
  // An older answer without engines: its Docker is the one on this machine.
  const local = configured.length === 0 || down.some((e) => isLocalSocket(e.address));
  const remote = down.filter((e) => !isLocalSocket(e.address));
  const label = remote.length === 0 ? 'Docker unreachable'
    : down.length === 1 ? `Engine ${down[0].name} unreachable` : `${down.length} engines unreachable`;
  return { down, local, label };
}

/** What `kiln serve` prints when Docker does not answer, as a line with its install link. */
function DockerAdvice() {
  return (
    <div className="muted small docker-advice" data-testid="docker-advice">
      Start Docker (<code>{DOCKER_START_COMMAND}</code>, or open Docker Desktop) or <a href={DOCKER_INSTALL_URL} target="_blank" rel="noopener noreferrer">install it</a>; jobs wait until Docker answers.
    </div>
  );
}

/** `error`: the Kiln engine itself did not answer the health call. */
export function DockerStatus({ health, error }: { health: Health | undefined; error: boolean }) {
  const trouble = health && !error && !health.docker.ok ? engineTrouble(health) : undefined;
  const title = health?.docker.engine ? `${health.docker.engine}${health.docker.message ? ` — ${health.docker.message}` : ''}` : undefined;
  const remote = trouble?.down.filter((e) => !isLocalSocket(e.address)) ?? [];
  return (
    <>
      <div><span className={`dot ${error ? 'dot-bad' : health?.docker.ok ? 'dot-ok' : 'dot-warn'}`} /><span title={title}>{error ? 'Kiln server unreachable' : trouble ? trouble.label : 'Docker ready'}</span></div>
      {trouble?.local && <DockerAdvice />}
      {remote.length > 0 && (
        <div className="muted small engine-advice" data-testid="engine-advice">
          {remote.map((e) => `${e.name} (${e.address}) ${e.state === 'starting' ? 'has not answered yet' : `does not answer${e.lastError ? `: ${e.lastError.replace(/^Docker engine not reachable:\s*/, '')}` : ''}`}`).join('; ')}; jobs wait until it answers. Check its address on the <a href={href({ view: 'engines' })}>Engines</a> page.
        </div>
      )}
    </>
  );
}
