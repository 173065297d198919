import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// A sandboxed preload cannot `require` project files nor be an ES module: bundle preload.ts (with
// bridge-api.ts and the shared constants inlined) into one CommonJS file; electron stays external.
export default defineConfig({
  build: {
    lib: { entry: fileURLToPath(new URL('../preload.ts', import.meta.url)), formats: ['cjs'], fileName: () => 'preload.cjs' },
    outDir: fileURLToPath(new URL('../../dist/src-main', import.meta.url)),
    emptyOutDir: false,
    rollupOptions: { external: ['electron'] },
    minify: false,
    sourcemap: true,
  },
  logLevel: 'warn',
});
