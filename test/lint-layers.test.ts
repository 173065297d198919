import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The layer rules of STYLE.md live in eslint.config.js; these tests prove they bite, so they cannot
// silently drift (a renamed folder or a loosened pattern would turn these red).
const eslint = new ESLint({ cwd: process.cwd() });

async function restrictedImports(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the layer rules', () => {
  it('forbid node:* modules in shared/', async () => {
    expect(await restrictedImports('shared/probe.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n")).toHaveLength(1);
  });

  it('forbid runtime packages in shared/', async () => {
    expect(await restrictedImports('shared/probe.ts', "import Docker from 'dockerode';\nexport const x = Docker;\n")).toHaveLength(1);
  });

  it('forbid the renderer from reaching into src-main/', async () => {
    expect(await restrictedImports('src-renderer/probe.ts', "import { x } from '../src-main/engine/engine.js';\nexport const y = x;\n")).toHaveLength(1);
  });

  it('forbid electron in code that runs under plain Node', async () => {
    expect(await restrictedImports('src-main/engine-probe.ts', "import { app } from 'electron';\nexport const a = app;\n")).toHaveLength(1);
  });

  it('allow electron in the Electron composition root', async () => {
    expect(await restrictedImports('src-main/main.ts', "import { app } from 'electron';\nexport const a = app;\n")).toHaveLength(0);
  });

  it('allow shared/ imports from the renderer', async () => {
    expect(await restrictedImports('src-renderer/probe.ts', "import type { Status } from '../shared/model/status.js';\nexport type S = Status;\n")).toHaveLength(0);
  });
});
