import { describe, expect, it } from 'vitest';
import { defaultConfig, loadConfig, parseConfig, parseRate, parseSize } from './config-file.js';
import { formatDiagnostic } from '../../shared/diagnostics.js';

const FULL = `server: { host: 127.0.0.1, port: 7171 }
tunnel: { url: "https://smee.io/abc" }
concurrency: { jobs: 3, per-repository: 1 }
retention: { artifacts: 7d, caches: 30d, cache-size: 10GB, workspaces: 24h }
repositories:
  - name: acme/web
    url: /srv/git/web.git
    default-branch: trunk
    webhook-secrets: [new-secret, old-secret]
    secrets: { NPM_TOKEN: "t0ken" }
    rate-limit: 30/min
    priority: { main: high, "release/*": critical }
`;

describe('parseConfig', () => {
  it('reads every documented key into KilnConfig with durations in ms and sizes in bytes', () => {
    const { config, diagnostics } = parseConfig(FULL, 'kiln.config.yml');
    expect(diagnostics).toEqual([]);
    expect(config).toMatchObject({
      server: { host: '127.0.0.1', port: 7171 },
      tunnel: { url: 'https://smee.io/abc' },
      concurrency: { jobs: 3, perRepository: 1 },
      retention: { artifactsMs: 7 * 86_400_000, cachesMs: 30 * 86_400_000, cacheSizeBytes: 10e9, workspacesMs: 86_400_000 },
      repositories: [{
        name: 'acme/web', url: '/srv/git/web.git', defaultBranch: 'trunk', webhookSecrets: ['new-secret', 'old-secret'],
        secrets: { NPM_TOKEN: 't0ken' }, rateLimitPerMinute: 30, priority: { main: 'high', 'release/*': 'critical' },
      }],
    });
  });

  it('fills defaults for an empty file', () => {
    expect(parseConfig('', 'kiln.config.yml')).toEqual({ config: defaultConfig(), diagnostics: [] });
    expect(defaultConfig()).toMatchObject({ server: { host: '127.0.0.1', port: 7070 }, concurrency: { jobs: 4, perRepository: 2 }, repositories: [] });
  });

  it.each([
    ['concurrency: { jobs: 4, per-repo: 2 }\n', 'kiln.config.yml:1:25: unknown key \'per-repo\' in concurrency'],
    ['server:\n  port: seventy\n', 'kiln.config.yml:2:9: server.port must be integer, got \'seventy\''],
    ['retention: { caches: forever }\n', 'kiln.config.yml:1:22: retention.caches: \'forever\' is not a duration'],
    ['retention: { cache-size: 10 parsecs }\n', 'kiln.config.yml:1:26: retention.cache-size: \'10 parsecs\' is not a size'],
    ['repositories:\n  - name: acme/web\n    url: /x\n    rate-limit: lots\n', 'kiln.config.yml:4:17: repositories[0].rate-limit: \'lots\' is not a rate'],
    ['repositories:\n  - name: acme/web\n    url: /x\n    priority: { main: urgent }\n', 'kiln.config.yml:4:23: repositories[0].priority.main must be one of low, normal, high, critical'],
    ['repositories:\n  - name: web\n    url: /x\n', 'kiln.config.yml:2:11: repositories[0].name must be owner/name'],
    ['repositories:\n  - url: /x\n', 'kiln.config.yml:2:5: repositories[0] is missing required key \'name\''],
    ['server: { port: 1\n', 'kiln.config.yml:'],
  ])('reports %j at its position', (text, expected) => {
    const { config, diagnostics } = parseConfig(text, 'kiln.config.yml');
    expect(config).toBeUndefined();
    expect(diagnostics.map(formatDiagnostic).join('\n')).toContain(expected);
  });

  it('reports shape and value problems together, in file order, in one pass', () => {
    const text = 'retention: { caches: forever }\nconcurrency: { jobs: 4, per-repo: 2 }\nrepositories:\n  - name: acme/web\n    url: /x\n    rate-limit: lots\n    webhook-secrets: 7\n';
    const { config, diagnostics } = parseConfig(text, 'kiln.config.yml');
    expect(config).toBeUndefined();
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      expect.stringMatching(/^kiln\.config\.yml:1:22: retention\.caches: 'forever' is not a duration/),
      expect.stringMatching(/^kiln\.config\.yml:2:25: unknown key 'per-repo' in concurrency/),
      expect.stringMatching(/^kiln\.config\.yml:6:17: repositories\[0\]\.rate-limit: 'lots' is not a rate/),
      expect.stringMatching(/^kiln\.config\.yml:7:22: repositories\[0\]\.webhook-secrets must be array/),
    ]);
  });

  it.each([
    'repositories: 7\n', 'repositories: [7, null, "x"]\n', 'retention: [1, 2]\n', 'tunnel: yes\n', '42\n', '- a\n- b\n',
    'repositories:\n  - { name: a/b, url: /x, secrets: 5, priority: 3, credentials: 9, webhook-secrets: { a: 1 } }\n',
    // Mappings whose toString is not a function: String() on them throws.
    'server:\n  host: {toString: 1}\n  port: {valueOf: 1, toString: 1}\n', 'tunnel:\n  url: {toString: 1}\n',
    'repositories:\n  - name: {toString: 1}\n    url: x\n',
    'repositories:\n  - name: a/b\n    url: x\n    secrets: {A: {toString: 1}}\n    webhook-secrets: [{toString: 1}]\n    webhook-secret: {toString: 1}\n    credentials: {username: {toString: 1}}\n',
    `a: &a [1]\nb: [${Array.from({ length: 101 }, () => '*a').join(',')}]\n`,
  ])('never throws on a wrongly shaped file: %j', (text) => {
    const { config, diagnostics } = parseConfig(text, 'kiln.config.yml');
    expect(config).toBeUndefined();
    expect(diagnostics.length).toBeGreaterThan(0);
    for (const d of diagnostics) expect(d.line).toBeGreaterThan(0);
  });

  it('reports an unreadable file as a FILE diagnostic instead of throwing', () => {
    const { config, diagnostics } = loadConfig('/nonexistent/kiln.config.yml');
    expect(config).toBeUndefined();
    expect(formatDiagnostic(diagnostics[0])).toBe('/nonexistent/kiln.config.yml: cannot read configuration: file not found');
  });
});

describe('value parsers', () => {
  it.each([['10GB', 10e9], ['512MiB', 512 * 1024 ** 2], ['1000', 1000], [2048, 2048], ['1.5kb', 1500], ['ten', undefined]])('parseSize(%j) = %j', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });
  it.each([['30/min', 30], ['2/s', 120], ['120/hour', 2], ['0/min', undefined], ['fast', undefined]])('parseRate(%j) = %j', (text, perMinute) => {
    expect(parseRate(text)).toBe(perMinute);
  });
});

describe('server.allowed-hosts in kiln.config.yml', () => {
  it('reads the names the server is also known by', () => {
    const { config, diagnostics } = parseConfig('server:\n  allowed-hosts: [ci.example.com, "kiln.local:8443", "[fd00::5]:7070"]\n', 'kiln.config.yml');
    expect(diagnostics).toEqual([]);
    expect(config?.server.allowedHosts).toEqual(['ci.example.com', 'kiln.local:8443', '[fd00::5]:7070']);
  });

  it('reports an entry that is a URL rather than a host name, with its position', () => {
    const { config, diagnostics } = parseConfig('server:\n  allowed-hosts:\n    - ci.example.com\n    - https://ci.example.com/\n', 'kiln.config.yml');
    expect(config).toBeUndefined();
    expect(diagnostics).toEqual([expect.objectContaining({
      file: 'kiln.config.yml', line: 4, code: 'INVALID_VALUE',
      message: "server.allowed-hosts: 'https://ci.example.com/' is not a host name with an optional port (use e.g. ci.example.com or kiln.local:7070, without a scheme or path)",
    })]);
  });
});
