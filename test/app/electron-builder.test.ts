import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// What can be checked of the installers without downloading Electron: electron-builder.yml, the
// package it packs, and the preload bundle it ships.
interface BuilderConfig {
  appId: string;
  productName: string;
  files: string[];
  extraMetadata?: { main?: string };
  npmRebuild?: boolean;
  buildDependenciesFromSource?: boolean;
  asar?: boolean;
  asarUnpack?: string[];
  linux?: { target: string[] };
  mac?: { target: string[]; icon?: string };
  win?: { target: string[] };
  deb?: { depends?: string[] };
}

const config = parse(readFileSync('electron-builder.yml', 'utf8')) as BuilderConfig;
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { name: string; main: string; scripts: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** electron-builder's `files`: a path is packed when a pattern matches it and no `!pattern` does. */
function packed(path: string): boolean {
  const include = config.files.filter((p) => !p.startsWith('!'));
  const exclude = config.files.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  return picomatch.isMatch(path, include, { dot: true }) && !picomatch.isMatch(path, exclude, { dot: true });
}

describe('electron-builder.yml', () => {
  it('names the app and builds for Linux, macOS and Windows', () => {
    expect(config.appId).toBe('dev.kiln.desktop');
    expect(config.productName).toBe('Kiln');
    expect(config.linux?.target).toEqual(expect.arrayContaining(['AppImage', 'deb']));
    expect(config.mac?.target).toContain('dmg');
    expect(config.win?.target).toContain('nsis');
  });

  it('starts the compiled main process and packs what it loads at run time', () => {
    expect(config.extraMetadata?.main).toBe(pkg.main);
    expect(pkg.main).toBe('dist/src-main/main.js');
    // main.ts finds these from app.getAppPath(), the packed package's root.
    for (const path of ['package.json', 'dist/src-main/main.js', 'dist/src-main/preload.cjs', 'dist/src-main/engine/engine.js', 'dist/shared/api/engine-api.js', 'dist-renderer/index.html', 'assets/icon.png', 'assets/tray.png', 'assets/tray@2x.png']) {
      expect(packed(path), path).toBe(true);
    }
    for (const path of ['dist/src-main/main.js.map', 'dist/src-main/electron/run-counter.test.js', 'src-main/main.ts', 'test/app/launch-app.ts', 'node_modules/.bin/vitest']) {
      expect(packed(path), path).toBe(false);
    }
    for (const asset of config.files.filter((p) => p.startsWith('assets/'))) expect(existsSync(asset), asset).toBe(true);
  });

  it('rebuilds the native SQLite module for Electron and keeps its binary outside the asar', () => {
    expect(config.npmRebuild).toBe(true);
    expect(config.buildDependenciesFromSource).toBe(true);
    expect(pkg.dependencies['better-sqlite3']).toBeDefined();
    expect(existsSync('node_modules/better-sqlite3/binding.gyp')).toBe(true);
    expect(config.asar).toBe(true);
    expect(picomatch.isMatch('app.asar/node_modules/better-sqlite3/build/Release/better_sqlite3.node', config.asarUnpack ?? [])).toBe(true);
    // electron-builder refuses an app that ships Electron itself as a runtime dependency.
    expect(pkg.dependencies.electron).toBeUndefined();
    expect(pkg.devDependencies.electron).toMatch(/^\^?\d+\./);
  });

  it('has a macOS icon of at least 512×512, as dmg needs', () => {
    const png = readFileSync(config.mac?.icon ?? 'assets/icon.png');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([512, 512]);
  });

  it('is run by `npm run dist` after the build and the preload bundle, with a pinned electron-builder', () => {
    const dist = pkg.scripts.dist;
    expect(dist).toMatch(/npm run build && npm run build:preload && /);
    expect(dist).toMatch(/electron-builder@\d+\.\d+\.\d+ --config electron-builder\.yml$/);
  });
});

describe('the preload bundle the installers ship', () => {
  it('is one CommonJS file that requires nothing but electron, as a sandboxed preload must', () => {
    const out = mkdtempSync(join(tmpdir(), 'kiln-preload-'));
    try {
      execFileSync('npx', ['vite', 'build', '--config', 'src-main/electron/preload.vite.config.ts', '--outDir', out], { stdio: ['ignore', 'ignore', 'inherit'] });
      const code = readFileSync(join(out, 'preload.cjs'), 'utf8');
      const required = [...code.matchAll(/require\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]);
      expect(new Set(required)).toEqual(new Set(['electron']));
      expect(code).not.toMatch(/^\s*(import|export)\s/m);
      expect(code).toContain('exposeInMainWorld');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
