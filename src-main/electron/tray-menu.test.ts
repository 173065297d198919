import { describe, expect, it, vi } from 'vitest';
import { trayMenu } from './tray-menu.js';

describe('the tray menu', () => {
  const input = { counts: 'Kiln — 1 build running', webhookUrl: 'http://127.0.0.1:7070/webhooks/github', open: vi.fn(), quit: vi.fn() };

  it('shows the counts and the webhook address, disabled, and ends with Quit', () => {
    const items = trayMenu(input);
    expect(items.map((i) => i.label ?? i.type)).toEqual(['Kiln — 1 build running', 'separator', 'Open Kiln', 'Webhooks at http://127.0.0.1:7070/webhooks/github', 'separator', 'Quit Kiln']);
    expect(items.filter((i) => i.enabled === false).map((i) => i.label)).toEqual(['Kiln — 1 build running', 'Webhooks at http://127.0.0.1:7070/webhooks/github']);
    items.find((i) => i.label === 'Quit Kiln')?.click?.({} as never, undefined, {} as never);
    expect(input.quit).toHaveBeenCalledTimes(1);
  });

  it('adds the secret-storage note as a disabled line when there is one', () => {
    const items = trayMenu({ ...input, note: 'Secrets are encrypted with the key file /k (readable only by you) because …' });
    expect(items[4]).toEqual({ label: 'Secrets are encrypted with the key file /k (readable only by you) because …', enabled: false });
  });
});
