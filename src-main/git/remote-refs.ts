/**
 * A repository's remote heads through `git ls-remote`: what catch-up compares with the heads it
 * last saw. No forge API is needed, so this works for GitHub and for a plain git server alike.
 *
 * Same safety rules as checkout.ts: argv array (no shell), the URL after `--`, credentials in the
 * environment (never in argv), userinfo redacted from every message. A remote that does not answer
 * within `timeoutMs` is killed, so one dead host cannot hold a catch-up pass.
 */
import { execFile } from 'node:child_process';
import { CheckoutError, gitInvocation, redactUrl, type GitSource } from './checkout.js';

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
export function listRemoteRefs(source: GitSource, options: { timeoutMs?: number } = {}): Promise<RemoteRefs> {
  const { url, env } = gitInvocation(source);
  // All refs (pull request heads are neither --heads nor --tags), filtered by parseLsRemote.
  const args = ['ls-remote', '--', url];
  return new Promise((resolve, reject) => {
    execFile('git', args, { env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, timeout: options.timeoutMs ?? 30_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) {
        const timedOut = (err as { killed?: boolean }).killed;
        const detail = timedOut ? `no answer within ${Math.round((options.timeoutMs ?? 30_000) / 1000)} s` : (stderr || err.message).trim().split('\n').slice(-2).join('; ');
        reject(new CheckoutError(`git ls-remote ${redactUrl(url)} failed: ${detail}`));
      } else {
        resolve(parseLsRemote(stdout));
      }
    });
  });
}
