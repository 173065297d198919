import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

// Build configuration of the renderer (kept outside src-renderer/, which holds only browser code).
// The renderer is one static bundle, served by `kiln serve` to a browser and loaded by Electron from
// disk. Relative base so both work.
export default defineConfig({
  root: fileURLToPath(new URL('./src-renderer', import.meta.url)),
  base: './',
  plugins: [react()],
  build: { outDir: fileURLToPath(new URL('./dist-renderer', import.meta.url)), emptyOutDir: true, chunkSizeWarningLimit: 2000 },
});
