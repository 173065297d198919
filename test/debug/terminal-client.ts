/**
 * A terminal WebSocket client for the tests and the benchmark: what the dashboard's Terminal panel
 * does, minus the drawing. Keystrokes go as binary frames, resize as a JSON text frame; the screen
 * output is collected as text (ANSI sequences kept) to wait for.
 */
import WebSocket from 'ws';

export interface TerminalClient {
  readonly ws: WebSocket;
  /** Everything the shell printed so far. */
  output(): string;
  type(text: string): void;
  resize(cols: number, rows: number): void;
  /** Resolves with the output once `pattern` appears in what came after `from` (default: everything). */
  waitFor(pattern: RegExp | string, o?: { from?: number; timeoutMs?: number }): Promise<string>;
  /** The control messages ({type:'ready'|'exit'|'error', …}) received so far. */
  controls(): Array<{ type: string; [k: string]: unknown }>;
  close(): Promise<void>;
}

/** Opens a terminal; rejects with the refusal's status and body when the handshake is refused. */
export function openTerminal(url: string, o: { origin?: string; headers?: Record<string, string> } = {}): Promise<TerminalClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin: o.origin, headers: o.headers });
    let text = '';
    const controls: Array<{ type: string; [k: string]: unknown }> = [];
    ws.on('message', (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (isBinary) text += buf.toString('utf8');
      else controls.push(JSON.parse(buf.toString('utf8')) as { type: string });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body })));
    });
    ws.once('error', reject);
    ws.once('open', () => {
      resolve({
        ws,
        output: () => text,
        type: (s) => ws.send(Buffer.from(s), { binary: true }),
        resize: (cols, rows) => ws.send(JSON.stringify({ type: 'resize', cols, rows })),
        controls: () => controls,
        async waitFor(pattern, w = {}) {
          const from = w.from ?? 0;
          const deadline = Date.now() + (w.timeoutMs ?? 15_000);
          const test = (s: string): boolean => (typeof pattern === 'string' ? s.includes(pattern) : pattern.test(s));
          while (!test(text.slice(from))) {
            if (Date.now() > deadline) throw new Error(`no ${String(pattern)} in the terminal within ${w.timeoutMs ?? 15_000} ms; it shows:\n${text.slice(from).slice(-2000)}`);
            if (ws.readyState === ws.CLOSED) throw new Error(`the terminal closed before ${String(pattern)} appeared; controls: ${JSON.stringify(controls)}; it shows:\n${text.slice(-2000)}`);
            await new Promise((r) => setTimeout(r, 20));
          }
          return text.slice(from);
        },
        close: () => new Promise<void>((r) => {
          if (ws.readyState === ws.CLOSED) { r(); return; }
          ws.once('close', () => r());
          ws.close();
        }),
      });
    });
  });
}
