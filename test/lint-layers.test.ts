import { ESLint } from 'eslint';
import { readdirSync } from 'node:fs';
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

// One import each zone must refuse (a folder above it, or beside it), and one it may make.
const ZONE_CASES: [zone: string, forbidden: string, allowed: string | undefined][] = [
  ['core', '../storage/db.js', undefined],
  ['pipeline', '../executor/exec-step.js', '../core/engine-contract.js'],
  ['git', '../executor/docker-executor.js', '../core/ports.js'],
  ['storage', '../executor/job-steps.js', '../pipeline/expressions.js'],
  ['settings', '../engine/engine.js', '../storage/secret-vault.js'],
  ['queue', '../executor/docker-executor.js', '../storage/run-store.js'],
  ['executor', '../storage/log-store.js', '../git/checkout.js'],
  ['trigger', '../storage/db.js', '../settings/settings-service.js'],
  ['forge', '../engine/engine.js', '../storage/status-outbox.js'],
  ['engine', '../http/app.js', '../executor/docker-executor.js'],
  ['http', '../engine/engine.js', '../trigger/webhook-receiver.js'],
  ['cli', '../electron/ipc-router.js', '../engine/engine.js'],
];

describe('the zones inside src-main', () => {
  const folders = readdirSync('src-main', { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== 'electron').map((d) => d.name);

  it('cover every folder of src-main but the Electron layer, each with a case here', async () => {
    expect(ZONE_CASES.map(([zone]) => zone).sort()).toEqual(folders.sort());
    for (const zone of folders) {
      const messages = await restrictedImports(`src-main/${zone}/probe.ts`, "import * as m from '../electron/ipc-router.js';\nexport const x = m;\n");
      expect(messages, zone).toEqual([expect.stringContaining(`src-main/${zone}/ may import only`)]);
    }
  });

  it.each(ZONE_CASES)('keep src-main/%s/ from importing %s', async (zone, forbidden) => {
    const messages = await restrictedImports(`src-main/${zone}/probe.ts`, `import * as m from '${forbidden}';\nexport const x = m;\n`);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(`src-main/${zone}/ may import only`);
  });

  it.each(ZONE_CASES.filter(([, , allowed]) => allowed !== undefined))('let src-main/%s/ import what is below it', async (zone, _forbidden, allowed) => {
    expect(await restrictedImports(`src-main/${zone}/probe.ts`, `import * as m from '${allowed}';\nexport const x = m;\n`)).toEqual([]);
  });

  it('keep electron out of every zone', async () => {
    for (const zone of folders) {
      expect(await restrictedImports(`src-main/${zone}/probe.ts`, "import { app } from 'electron';\nexport const a = app;\n")).toHaveLength(1);
    }
  });
});

