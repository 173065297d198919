import { describe, expect, it } from 'vitest';
import { parseConfig } from './config-file.js';

describe('the debug keys of kiln.config.yml', () => {
  it('reads how long failed jobs are kept and which repositories keep every failure', () => {
    const { config, diagnostics } = parseConfig(`debug: { keep: 45m }
repositories:
  - name: team/service
    url: /srv/git/service.git
    debug-failures: true
  - name: team/other
    url: /srv/git/other.git
`, 'kiln.config.yml');
    expect(diagnostics).toEqual([]);
    expect(config?.debug).toEqual({ keepMs: 45 * 60_000 });
    expect(config?.repositories.map((r) => r.debugFailures)).toEqual([true, undefined]);
  });

  it('names the field for a bad keep duration', () => {
    const { diagnostics } = parseConfig('debug: { keep: forever }\n', 'kiln.config.yml');
    expect(diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`)).toEqual([
      "kiln.config.yml:1:16: debug.keep: 'forever' is not a duration (use e.g. 30d, 24h, 15m, 90s)",
    ]);
  });
});
