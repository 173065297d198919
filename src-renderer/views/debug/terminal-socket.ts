/**
 * The browser side of the terminal WebSocket (src-main/http/terminal-ws.ts): keystrokes out as
 * binary frames, screen output in, resize as a JSON control frame. Output is acknowledged only
 * once the terminal has drawn it (`flow=ack`), so a flood (`yes`) is paced by what the tab can
 * draw rather than queued without bound — the tab stays responsive.
 */

export interface TerminalSocketEvents {
  /** Output bytes; call `drawn` once they are on screen. */
  onOutput(bytes: Uint8Array, drawn: () => void): void;
  onReady(): void;
  onExit(code: number): void;
  /** A refusal or failure, in words (the container vanished, the job is no longer kept…). */
  onProblem(message: string): void;
  onClose(): void;
}

/** Acknowledge drawn output in batches of at least this many bytes (or after a short pause). */
const ACK_BATCH = 64 * 1024;
/** Input frames are at most this big (a paste is cut into pieces; the server refuses frames over 1 MiB). */
const INPUT_PIECE = 64 * 1024;

export interface TerminalSocket {
  send(data: string | Uint8Array): void;
  resize(cols: number, rows: number): void;
  close(): void;
}

export function connectTerminal(url: string, size: { cols: number; rows: number }, events: TerminalSocketEvents): TerminalSocket {
  const ws = new WebSocket(`${url}${url.includes('?') ? '&' : '?'}cols=${size.cols}&rows=${size.rows}&flow=ack`);
  ws.binaryType = 'arraybuffer';
  const encoder = new TextEncoder();
  let drawnBytes = 0;
  let ackTimer: ReturnType<typeof setTimeout> | undefined;
  let problem = false;
  let opened = false;
  const flushAck = (): void => {
    ackTimer = undefined;
    if (drawnBytes > 0 && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ack', bytes: drawnBytes }));
    drawnBytes = 0;
  };
  ws.onopen = () => { opened = true; };
  ws.onmessage = (e: MessageEvent) => {
    if (e.data instanceof ArrayBuffer) {
      const bytes = new Uint8Array(e.data);
      events.onOutput(bytes, () => {
        drawnBytes += bytes.length;
        if (drawnBytes >= ACK_BATCH) flushAck();
        else ackTimer ??= setTimeout(flushAck, 30);
      });
      return;
    }
    let msg: { type?: string; code?: number; message?: string };
    try { msg = JSON.parse(String(e.data)) as typeof msg; } catch { return; }
    if (msg.type === 'ready') events.onReady();
    else if (msg.type === 'exit') events.onExit(msg.code ?? -1);
    // 'gone': the shell ended with its container (removed, stopped, debugging ended); the message says why.
    else if (msg.type === 'error' || msg.type === 'gone') { problem = true; events.onProblem(msg.message ?? 'the terminal failed'); }
  };
  ws.onclose = (e: CloseEvent) => {
    clearTimeout(ackTimer);
    // An abnormal close after the socket opened is a lost connection (the server stopped); before
    // it, a refused handshake (409, 403), which reaches the page only this way.
    if (e.code === 1006 && !problem && opened) events.onProblem('the connection to the Kiln server was lost (it stopped or the network dropped); the container may still be up: open a terminal again once the server is back');
    else if (e.code === 1006 && !problem) events.onProblem('the server refused the terminal: the job may no longer be kept for debugging, or this page is not the dashboard\'s own origin');
    // The server closing for a reason of its own (input over a limit, the shell failed to start) says it in the close frame.
    else if (e.code !== 1000 && e.reason && !problem) events.onProblem(e.reason);
    events.onClose();
  };
  return {
    send(data) {
      if (ws.readyState !== WebSocket.OPEN) return;
      // A paste can be megabytes; the server takes frames of at most 1 MiB, so input goes in pieces.
      const bytes = typeof data === 'string' ? encoder.encode(data) : data;
      for (let at = 0; at < bytes.length; at += INPUT_PIECE) ws.send(bytes.subarray(at, at + INPUT_PIECE));
    },
    resize(cols, rows) {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols, rows }));
    },
    close() {
      clearTimeout(ackTimer);
      ws.close();
    },
  };
}
