import { ensureTestImages } from './helpers/test-image.js';

/** Runs once before the suite: the Docker tests need their locally built images. */
export default function setup(): void {
  ensureTestImages();
}
