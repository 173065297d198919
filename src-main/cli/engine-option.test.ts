import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveEngineOption } from './engine-option.js';

describe('kiln run --engine NAME for an engine whose material is in the vault', () => {
  let dir: string | undefined;
  afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('says the vault is kiln serve\'s and how to name files instead', () => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-engine-option-'));
    const file = join(dir, 'kiln.config.yml');
    writeFileSync(file, 'engines:\n  - name: far\n    address: tcp://far:2376\n    tls: { ca: vault, cert: vault, key: vault }\n');
    expect(resolveEngineOption('far', file)).toEqual({
      error: `--engine 'far': ${file} keeps this engine's tls.ca, tls.cert, tls.key in Kiln's secret vault (set in Settings), which kiln run does not read: name the PEM files there instead (tls: { ca: ca.pem, … }, ssh-key: FILE), or run the pipeline through kiln serve`,
    });
  });
});
