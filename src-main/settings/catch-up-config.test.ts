import { describe, expect, it } from 'vitest';
import { parseConfig } from './config-file.js';

describe('the catch-up keys of kiln.config.yml', () => {
  it('reads the catch-up interval, the clock check and a poll-only repository\'s poll interval', () => {
    const { config, diagnostics } = parseConfig(`catch-up: { interval: 10m, clock-check: 2s }
repositories:
  - name: team/service
    url: https://git.example.com/team/service.git
    poll-interval: 30s
`, 'kiln.config.yml');
    expect(diagnostics).toEqual([]);
    expect(config?.catchUp).toEqual({ intervalMs: 600_000, clockCheckMs: 2_000 });
    expect(config?.repositories[0]).toMatchObject({ webhookSecrets: [], pollIntervalMs: 30_000 });
  });

  it('names the field and the expected form for a bad poll interval', () => {
    const { diagnostics } = parseConfig(`repositories:
  - name: team/service
    url: /srv/git/service.git
    poll-interval: often
`, 'kiln.config.yml');
    expect(diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`)).toEqual([
      "kiln.config.yml:4:20: repositories[0].poll-interval: 'often' is not a duration (use e.g. 30d, 24h, 15m, 90s)",
    ]);
  });
});
