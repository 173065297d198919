import { useEffect, useRef, useState } from 'react';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { connectTerminal, type TerminalSocket } from './terminal-socket.js';
import { budgetedWriter } from './terminal-writer.js';

type State = { kind: 'connecting' } | { kind: 'open' } | { kind: 'exited'; code: number } | { kind: 'problem'; message: string } | { kind: 'closed' };

/**
 * One xterm.js terminal on one WebSocket: fits its box and follows its resizes, copies the
 * selection with Ctrl+Shift+C (paste is the browser's own, into xterm: Ctrl+Shift+V or the context
 * menu), and says why it ended.
 */
export function TerminalPane({ openUrl, index, onClose, onProblem }: { openUrl: () => Promise<string>; index: number; onClose: () => void; onProblem: (e: Error) => void }) {
  const problemRef = useRef(onProblem);
  problemRef.current = onProblem;
  // One URL per terminal (in the app it carries a one-time ticket): asked once, when the pane opens.
  const urlRef = useRef(openUrl);
  const box = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>({ kind: 'connecting' });

  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const term = new Terminal({ cursorBlink: true, fontSize: 13, fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace', scrollback: 5000, convertEol: false });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    try { fit.fit(); } catch { /* not laid out yet */ }
    // A flood is written a time-boxed slice per task, so the tab keeps answering (terminal-writer.ts).
    const writer = budgetedWriter(term);
    let socket: TerminalSocket | undefined;
    let disposed = false;
    const connect = (url: string): TerminalSocket => connectTerminal(url, { cols: term.cols, rows: term.rows }, {
      onOutput: (bytes, drawn) => writer.write(bytes, drawn),
      onReady: () => { setState({ kind: 'open' }); term.focus(); },
      onExit: (code) => setState({ kind: 'exited', code }),
      // Also to the page: the panel itself goes away once the job is no longer kept.
      onProblem: (message) => { setState({ kind: 'problem', message }); problemRef.current(new Error(`Terminal: ${message}`)); },
      onClose: () => setState((s) => (s.kind === 'open' || s.kind === 'connecting' ? { kind: 'closed' } : s)),
    });
    urlRef.current().then(
      (url) => { if (!disposed) socket = connect(url); },
      (err: unknown) => { const message = err instanceof Error ? err.message : String(err); setState({ kind: 'problem', message }); problemRef.current(new Error(`Terminal: ${message}`)); },
    );
    term.onData((data) => socket?.send(data));
    term.onBinary((data) => socket?.send(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)));
    term.onResize(({ cols, rows }) => socket?.resize(cols, rows));
    term.attachCustomKeyEventHandler((e) => {
      if (!e.ctrlKey || !e.shiftKey) return true;
      const key = e.key.toLowerCase();
      if (key === 'c') {
        if (e.type === 'keydown') {
          const selection = term.getSelection();
          if (selection) copyText(selection, () => term.focus());
        }
        e.preventDefault();
        return false;
      }
      // Ctrl+Shift+V: the browser's own paste (a paste event on xterm's textarea, which xterm sends
      // on); xterm must not also send the key as a control character.
      if (key === 'v') return false;
      return true;
    });
    const observer = new ResizeObserver(() => { try { fit.fit(); } catch { /* hidden */ } });
    observer.observe(el);
    return () => {
      disposed = true;
      observer.disconnect();
      socket?.close();
      writer.dispose();
      term.dispose();
    };
  }, []);

  const status = state.kind === 'connecting' ? 'connecting…'
    : state.kind === 'open' ? 'connected'
      : state.kind === 'exited' ? `the shell exited (code ${state.code}); the container is still up`
        : state.kind === 'problem' ? state.message : 'disconnected';
  return (
    <div className={`terminal-pane terminal-${state.kind}`} data-terminal={index} data-state={state.kind}>
      <div className="terminal-bar">
        <span>Terminal {index + 1}</span>
        <span className="terminal-status" data-testid="terminal-status">{status}</span>
        <button type="button" className="btn btn-sm" onClick={onClose} data-action="close-terminal">Close</button>
      </div>
      <div className="terminal-box" ref={box} />
    </div>
  );
}

/**
 * Puts `text` on the clipboard. The Clipboard API exists only in a secure context (https, or the
 * dashboard on loopback); a teammate's browser on plain http beyond loopback has none, so the text is
 * copied from a hidden textarea with execCommand('copy') — allowed there during the key press.
 * `refocus` gives the keyboard back to the terminal afterwards.
 */
export function copyText(text: string, refocus: () => void): void {
  const fallback = (): void => {
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.left = '-10000px';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    try {
      document.execCommand('copy');
    } finally {
      area.remove();
      refocus();
    }
  };
  if (window.isSecureContext && navigator.clipboard?.writeText) navigator.clipboard.writeText(text).catch(fallback);
  else fallback();
}
