import { describe, expect, it } from 'vitest';
import { dockerUnreachableLine, listeningLine } from './serve.js';

describe('the line kiln serve prints when no Docker engine answers', () => {
  it.each([
    ['names DOCKER_HOST when it is set', 'Docker engine not reachable: connect ENOENT /tmp/x.sock', 'unix:///tmp/x.sock', 'at DOCKER_HOST=unix:///tmp/x.sock (connect ENOENT /tmp/x.sock)'],
    ['names the default socket otherwise', 'Docker engine not reachable: connect EACCES /var/run/docker.sock', undefined, process.platform === 'win32' ? 'at //./pipe/docker_engine (' : 'at /var/run/docker.sock (connect EACCES /var/run/docker.sock)'],
    ['keeps a multi-line reason on one line', 'Docker engine not reachable: first\n    second', 'tcp://127.0.0.1:1', '(first second)'],
    ['says so when there is no reason', undefined, 'tcp://127.0.0.1:1', '(no answer)'],
  ])('%s', (_name, message, host, expected) => {
    const line = dockerUnreachableLine(message, host);
    expect(line).toContain(expected);
    expect(line).not.toContain('\n');
    expect(line).toMatch(/^kiln serve: no Docker engine is reachable .* start Docker .* or install it \(https:\/\/docs\.docker\.com\/engine\/install\/\); Kiln keeps serving/);
  });

  it('names the Docker context that chose the engine, and everything it looked at', () => {
    const line = dockerUnreachableLine('Docker engine not reachable: connect ENOENT /home/ada/.colima/docker.sock', undefined, {
      engine: "colima (unix:///home/ada/.colima/docker.sock, from docker context 'colima')",
      tried: ['DOCKER_HOST unset', "docker context 'colima' (currentContext in /home/ada/.docker/config.json) → unix:///home/ada/.colima/docker.sock"],
    });
    expect(line).toContain("no Docker engine is reachable at colima (unix:///home/ada/.colima/docker.sock, from docker context 'colima') (connect ENOENT /home/ada/.colima/docker.sock) [looked at: DOCKER_HOST unset; docker context 'colima' (currentContext in /home/ada/.docker/config.json) → unix:///home/ada/.colima/docker.sock], so jobs cannot run");
  });
});

describe('the line kiln serve prints when it listens', () => {
  it.each([[0, '0 repositories'], [1, '1 repository'], [2, '2 repositories']])('counts %i as "%s"', (n, words) => {
    expect(listeningLine('http://127.0.0.1:7070', '/data', 'k.yml', n, true)).toBe(`kiln serve: listening on http://127.0.0.1:7070 and every other interface (data /data, config k.yml, ${words})`);
    expect(listeningLine('http://127.0.0.1:7070', '/data', undefined, n)).toBe(`kiln serve: listening on http://127.0.0.1:7070 (data /data, config built-in defaults, ${words})`);
  });
});
