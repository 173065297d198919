/**
 * The renderer window's security settings and navigation rules, as plain data and functions
 * (main.ts applies them to the real BrowserWindow). The page is loaded from file:// and talks to the
 * engine only through the preload's bridge.
 */
export const WINDOW_WEB_PREFERENCES = {
  contextIsolation: true,
  nodeIntegration: false,
  sandbox: true,
  webSecurity: true,
  allowRunningInsecureContent: false,
  experimentalFeatures: false,
  spellcheck: false,
  navigateOnDragDrop: false,
} as const;

/**
 * Also sent as a response header for anything the session loads (defence in depth with the <meta> CSP).
 * https images: a job summary's, only once the reader allowed remote images (the renderer drops them otherwise).
 */
export const RENDERER_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data: https:",
  "font-src 'self'", "connect-src 'self' ws://127.0.0.1:*", "object-src 'none'", "base-uri 'none'", "frame-src 'none'", "form-action 'none'",
].join('; ');

export type NavigationDecision = 'allow' | 'download' | 'external' | 'deny';

/**
 * What to do when the page tries to go to `target`: in-page hash routes are allowed; the embedded
 * server's download URLs become downloads; https links open in the user's browser; everything else
 * is blocked (the window never leaves the app).
 */
export function decideNavigation(target: string, appUrl: string, serverUrl: string | undefined): NavigationDecision {
  let url: URL;
  let app: URL;
  try {
    url = new URL(target);
    app = new URL(appUrl);
  } catch {
    return 'deny';
  }
  if (url.protocol === app.protocol && url.host === app.host && url.pathname === app.pathname) return 'allow';
  if (serverUrl) {
    const server = new URL(serverUrl);
    if (url.origin === server.origin && (/^\/api\/artifacts\/[^/]+\/download$/.test(url.pathname) || /^\/api\/jobs\/[^/]+\/log\/raw$/.test(url.pathname))) return 'download';
  }
  if (url.protocol === 'https:') return 'external';
  return 'deny';
}

/** Only the app's own page may call the engine. */
export function isAppFrame(frameUrl: string | undefined, appUrl: string): boolean {
  if (!frameUrl) return false;
  try {
    const a = new URL(frameUrl);
    const b = new URL(appUrl);
    return a.protocol === b.protocol && a.host === b.host && a.pathname === b.pathname;
  } catch {
    return false;
  }
}
