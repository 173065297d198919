import { describe, expect, it } from 'vitest';
import { parseConfig } from './config-file.js';

describe('the max-changed-files key of a repository', () => {
  it('is read as the cap of changed files for path filters', () => {
    const { config, diagnostics } = parseConfig('repositories:\n  - name: acme/web\n    url: /srv/web.git\n    max-changed-files: 500\n', 'kiln.config.yml');
    expect(diagnostics).toEqual([]);
    expect(config?.repositories[0].maxChangedFiles).toBe(500);
  });

  it('is absent (the default of 3,000 applies) when not written', () => {
    const { config } = parseConfig('repositories:\n  - name: acme/web\n    url: /srv/web.git\n', 'kiln.config.yml');
    expect(config?.repositories[0].maxChangedFiles).toBeUndefined();
  });

  it('must be a positive whole number, reported at the value', () => {
    const { diagnostics } = parseConfig('repositories:\n  - name: acme/web\n    url: /srv/web.git\n    max-changed-files: 0\n', 'kiln.config.yml');
    expect(diagnostics.map((d) => `${d.file}:${d.line}:${d.col}`)).toEqual(['kiln.config.yml:4:24']);
    expect(diagnostics[0].message).toMatch(/max-changed-files/);
  });
});
