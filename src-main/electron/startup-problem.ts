/**
 * The page the desktop app shows when it cannot start (a broken kiln.config.yml, an engine that
 * refuses to start): the problems as FILE:LINE:COL lines and what to do, instead of a blank window
 * or a silent exit. Plain static HTML in a data: URL, no script, a CSP that allows only its own
 * inline style; every problem text is escaped.
 */
export interface StartupProblem {
  title: string;
  /** One line each, already formatted (formatDiagnostic). */
  lines: string[];
  /** What the user does next. */
  hint: string;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function startupProblemHtml(problem: StartupProblem): string {
  const items = problem.lines.map((l) => `<li><code>${escapeHtml(l)}</code></li>`).join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Kiln cannot start</title>
<style>body{font:14px system-ui,sans-serif;margin:32px;color:#1f2933;background:#f5f7fa}h1{font-size:20px;color:#b42318}
ul{padding-left:20px}code{font:13px ui-monospace,monospace;white-space:pre-wrap}p{max-width:60em}</style>
</head><body>
<h1>${escapeHtml(problem.title)}</h1>
<ul>
${items}
</ul>
<p>${escapeHtml(problem.hint)}</p>
</body></html>
`;
}

/** The page as a URL for BrowserWindow.loadURL. */
export function startupProblemUrl(problem: StartupProblem): string {
  return `data:text/html;charset=utf-8;base64,${Buffer.from(startupProblemHtml(problem), 'utf8').toString('base64')}`;
}
