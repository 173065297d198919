// Renders the SVG icons to the PNG sizes Electron and electron-builder need, with Debian's
// Chromium (no image tools required): `node assets/render-icons.mjs`.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';

const targets = [
  ['assets/icon.svg', 'assets/icon.png', 512],
  ['assets/icon.svg', 'assets/icon-256.png', 256],
  ['assets/tray.svg', 'assets/tray.png', 16],
  ['assets/tray.svg', 'assets/tray@2x.png', 32],
];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
try {
  for (const [svg, png, size] of targets) {
    const page = await browser.newPage({ viewport: { width: size, height: size } });
    const data = Buffer.from(readFileSync(svg)).toString('base64');
    await page.setContent(`<html><body style="margin:0;background:transparent"><img src="data:image/svg+xml;base64,${data}" width="${size}" height="${size}"></body></html>`);
    await page.screenshot({ path: png, omitBackground: true });
    await page.close();
  }
} finally {
  await browser.close();
}
