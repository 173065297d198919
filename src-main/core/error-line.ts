/**
 * How an unexpected error reaches a person reading Kiln's output (kiln serve, the engine's onError):
 * one line — what failed, the error's message and the messages of its causes — and never a stack
 * trace, which says nothing to the user and hides the line that does. `KILN_DEBUG=1` adds the stack
 * (with its causes' stacks) below the line, for the one who debugs Kiln itself.
 */

/** "message (cause: inner message)", each cause once; a cause already quoted in the message is not repeated. */
export function errorText(err: unknown): string {
  let text = messageOf(err);
  const seen = new Set<unknown>([err]);
  let cause = causeOf(err);
  while (cause !== undefined && !seen.has(cause)) {
    seen.add(cause);
    const inner = messageOf(cause);
    if (inner !== '' && !quotes(text, inner)) text += ` (cause: ${inner})`;
    cause = causeOf(cause);
  }
  return text;
}

/** Whether stacks are shown (`KILN_DEBUG=1`). */
export function debugOutput(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.KILN_DEBUG === '1';
}

/** `prefix: what failed: the error (cause: …)`, and under KILN_DEBUG=1 the stacks on the lines after it. */
export function errorLine(prefix: string, err: unknown, debug = debugOutput()): string {
  const line = `${prefix}: ${errorText(err)}`;
  if (!debug) return line;
  const stacks: string[] = [];
  const seen = new Set<unknown>();
  for (let e: unknown = err; e instanceof Error && !seen.has(e); e = causeOf(e)) {
    seen.add(e);
    if (e.stack) stacks.push(stacks.length === 0 ? e.stack : `caused by ${e.stack}`);
  }
  return stacks.length === 0 ? line : `${line}\n${stacks.join('\n')}`;
}

/** Whether `text` already says `inner`: as itself, after a colon ("fetch failed: timeout"), or in parentheses. */
function quotes(text: string, inner: string): boolean {
  return text === inner || text.endsWith(`: ${inner}`) || text.includes(`: ${inner}:`) || text.includes(`(${inner})`) || text.includes(`: ${inner} (`);
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'string') return err;
  if (err && typeof err === 'object' && 'message' in err && typeof err.message === 'string') return err.message;
  return String(err);
}

function causeOf(err: unknown): unknown {
  return err && typeof err === 'object' && 'cause' in err ? err.cause : undefined;
}
