/**
 * A repository's remote heads through `git ls-remote`: what catch-up compares with the heads it
 * last saw. No forge API is needed, so this works for GitHub and for a plain git server alike.
 *
 * Same safety rules as checkout.ts: argv array (no shell), the URL after `--`, credentials in the
 * environment (never in argv), userinfo redacted from every message. A remote that does not answer
 * within `timeoutMs` is killed, so one dead host cannot hold a catch-up pass. git runs from a worker
 * thread (git-spawner.ts), so spawning it never stalls the engine's event loop.
 */
import { CheckoutError, gitInvocation, redactUrl, type GitSource } from './checkout.js';
import { runGit } from './git-spawner.js';

/** Branches, tags and pull request heads; everything else a server advertises is left out. */
const WANTED = /^refs\/(heads\/.+|tags\/.+|pull\/\d+\/head)$/;

/** ref → commit SHA. Annotated tags give the commit they point to (the peeled `^{}` line). */
export type RemoteRefs = Map<string, string>;

export function parseLsRemote(output: string): RemoteRefs {
  const refs: RemoteRefs = new Map();
  const peeled = new Map<string, string>();
  for (const line of output.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab !== 40) continue;
    const sha = line.slice(0, 40);
    let ref = line.slice(41).trim();
    if (!/^[0-9a-f]{40}$/.test(sha)) continue;
    if (ref.endsWith('^{}')) {
      ref = ref.slice(0, -3);
      if (WANTED.test(ref)) peeled.set(ref, sha);
      continue;
    }
    if (WANTED.test(ref)) refs.set(ref, sha);
  }
  for (const [ref, sha] of peeled) refs.set(ref, sha);
  return refs;
}

/** Lists the remote's heads; rejects with a CheckoutError whose message names the remote and git's reason. */
export async function listRemoteRefs(source: GitSource, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<RemoteRefs> {
  const { url, env } = gitInvocation(source);
  const timeoutMs = options.timeoutMs ?? 30_000;
  // All refs (pull request heads are neither --heads nor --tags), filtered by parseLsRemote.
  const r = await runGit(['ls-remote', '--', url], env, { timeoutMs, signal: options.signal });
  if (!r.ok) {
    const detail = r.timedOut ? `no answer within ${Math.round(timeoutMs / 1000)} s` : (r.stderr || r.message || 'unknown error').trim().split('\n').slice(-2).join('; ');
    throw new CheckoutError(`git ls-remote ${redactUrl(url)} failed: ${detail}`);
  }
  return parseLsRemote(r.stdout);
}
