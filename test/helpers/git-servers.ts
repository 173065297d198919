/**
 * Real git remotes on loopback for catch-up tests: bare repositories served by `git daemon`
 * (git://) and by Debian's `git http-backend` (smart HTTP, behind Basic auth) through a small CGI
 * bridge. Pushes go straight to the bare repository on disk, as another developer's would.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createConnection, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { git } from './git.js';

/** A bare repository under `base` with a work clone to commit from. */
export interface RemoteRepo {
  bare: string;
  work: string;
  /** Commits `.kiln.yml` on `branch` (created from the current one when new) and pushes; returns the SHA. */
  push(pipeline: string, branch?: string): string;
  /** Moves `branch` on the remote to `sha` (a force push). */
  forcePush(branch: string, sha: string): void;
  deleteBranch(branch: string): void;
}

export function createRemoteRepo(base: string, name: string): RemoteRepo {
  const bare = join(base, `${name}.git`);
  const work = join(base, `${name}-work`);
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  execFileSync('git', ['init', '-q', '-b', 'main', work]);
  git(work, 'remote', 'add', 'origin', bare);
  return {
    bare, work,
    push(pipeline, branch = 'main') {
      const current = git(work, 'symbolic-ref', '--short', 'HEAD');
      if (current !== branch) git(work, 'checkout', '-q', '-B', branch);
      writeFileSync(join(work, '.kiln.yml'), pipeline);
      writeFileSync(join(work, 'stamp.txt'), `${Date.now()} ${Math.random()}\n`);
      git(work, 'add', '.');
      git(work, 'commit', '-q', '-m', `change on ${branch}`);
      git(work, 'push', '-q', '--force', 'origin', branch);
      return git(work, 'rev-parse', 'HEAD');
    },
    forcePush(branch, sha) {
      git(work, 'push', '-q', '--force', 'origin', `${sha}:refs/heads/${branch}`);
    },
    deleteBranch(branch) {
      git(work, 'push', '-q', 'origin', `:refs/heads/${branch}`);
    },
  };
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const socket = createConnection({ port, host: '127.0.0.1' }, () => { socket.end(); r(true); });
      socket.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface GitDaemon {
  url(name: string): string;
  stop(): Promise<void>;
  /** Starts it again on the same port (after stop). */
  restart(): Promise<void>;
}

/** `git daemon` exporting every repository under `base`, on a free loopback port. */
export async function startGitDaemon(base: string): Promise<GitDaemon> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${base}`, '--listen=127.0.0.1', `--port=${port}`, base], { stdio: 'ignore' });
    await waitForPort(port);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  };
  await start();
  return { url: (name) => `git://127.0.0.1:${port}/${name}.git`, stop, restart: start };
}

export interface HttpGitServer {
  url(name: string): string;
  stop(): Promise<void>;
}

/** Smart HTTP through `git http-backend` (CGI) behind Basic auth with `username`/`password`. */
export async function startHttpBackend(base: string, auth: { username: string; password: string }): Promise<HttpGitServer> {
  mkdirSync(base, { recursive: true });
  const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  const server: Server = createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end('unauthorized');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const cgi = spawn('/usr/lib/git-core/git-http-backend', [], {
      env: {
        PATH: process.env.PATH, GIT_PROJECT_ROOT: base, GIT_HTTP_EXPORT_ALL: '1', REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname), QUERY_STRING: url.search.slice(1), CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: auth.username, REMOTE_ADDR: '127.0.0.1', GIT_HTTP_MAX_REQUEST_BUFFER: '100M',
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) { res.write(chunk); return; }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
        else res.setHeader(name, value);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    cgi.stdout.on('end', () => res.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return {
    url: (name) => `http://127.0.0.1:${port}/${name}.git`,
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
