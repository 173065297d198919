import { describe, expect, it } from 'vitest';
import { decideNavigation, isAppFrame, RENDERER_CSP, WINDOW_WEB_PREFERENCES } from './window-security.js';

const app = 'file:///opt/Kiln/resources/app.asar/dist-renderer/index.html';
const server = 'http://127.0.0.1:7070';

describe('the window', () => {
  it('isolates the renderer: context isolation, sandbox, no Node', () => {
    expect(WINDOW_WEB_PREFERENCES).toMatchObject({ contextIsolation: true, nodeIntegration: false, sandbox: true, webSecurity: true });
  });

  it('allows no inline or remote script in its CSP', () => {
    expect(RENDERER_CSP).toContain("script-src 'self'");
    expect(RENDERER_CSP).not.toMatch(/script-src[^;]*unsafe/);
    expect(RENDERER_CSP).toContain("object-src 'none'");
  });
});

describe('decideNavigation', () => {
  it.each([
    [`${app}#/runs/r1`, 'allow'],
    [`${server}/api/artifacts/a1/download`, 'download'],
    [`${server}/api/jobs/j1/log/raw`, 'download'],
    [`${server}/api/runs`, 'deny'],
    ['https://github.com/acme/web', 'external'],
    ['http://evil.example/', 'deny'],
    ['file:///etc/passwd', 'deny'],
    ['javascript:alert(1)', 'deny'],
    ['not a url', 'deny'],
  ])('%s → %s', (target, decision) => {
    expect(decideNavigation(target, app, server)).toBe(decision);
  });
});

describe('isAppFrame', () => {
  it('trusts only the app page itself', () => {
    expect(isAppFrame(`${app}#/settings`, app)).toBe(true);
    expect(isAppFrame('https://example.com/', app)).toBe(false);
    expect(isAppFrame(undefined, app)).toBe(false);
  });
});
