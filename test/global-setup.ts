import { ensureBuilt, ensureRendererBuilt } from './helpers/build.js';
import { ensureTestImages } from './helpers/test-image.js';

/**
 * Runs once, before any test file starts: the Docker tests need their locally built images, and the
 * CLI and browser tests the built main side and renderer. Built here, not by the first file that
 * needs them, because files run two at a time (vitest.config.ts): two builds into one dist/ at once
 * would each serve the other half-written files. Both are no-ops after `npm run build`.
 */
export default function setup(): void {
  ensureTestImages();
  ensureBuilt();
  ensureRendererBuilt();
}
