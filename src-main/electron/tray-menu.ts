/**
 * The tray's context menu as Electron menu-template data (main.ts passes it to
 * Menu.buildFromTemplate): the build counts, Open, where webhooks arrive, a note when secrets fell
 * back to the key file, and Quit — the only way to stop the engine, since closing the window keeps
 * building.
 */
import type { MenuItemConstructorOptions } from 'electron';

export interface TrayMenuInput {
  /** trayTooltip(running, queued). */
  counts: string;
  webhookUrl: string;
  /** Shown, disabled, when set (secret-storage.ts). */
  note?: string;
  open(): void;
  quit(): void;
}

export function trayMenu(input: TrayMenuInput): MenuItemConstructorOptions[] {
  return [
    { label: input.counts, enabled: false },
    { type: 'separator' },
    { label: 'Open Kiln', click: () => input.open() },
    { label: `Webhooks at ${input.webhookUrl}`, enabled: false },
    ...(input.note ? [{ label: input.note, enabled: false }] : []),
    { type: 'separator' },
    { label: 'Quit Kiln', click: () => input.quit() },
  ];
}
