import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig, loadConfig } from './config-file.js';
import { ConfigDocument, durationValue, sizeValue } from './config-document.js';

const USER_FILE = `# Kiln on my laptop — keep this header
server: { host: 127.0.0.1, port: 7070 }

# concurrency is tuned for 2 cores
concurrency: { jobs: 2, per-repository: 1 }
retention:
  artifacts: 14d   # two weeks is enough
  caches: 30d
repositories:
  # the web front end
  - name: acme/web
    url: /srv/git/web.git
    default-branch: main
    webhook-secrets: [new-secret, old-secret]
    secrets: { NPM_TOKEN: "from-the-file", OTHER: x }
    priority: { main: high }
`;

describe('the configuration document', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-config-doc-'));
    file = join(dir, 'kiln.config.yml');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function saveEdited(edit: (doc: ConfigDocument) => void): string {
    const doc = ConfigDocument.open(file, defaultConfig());
    edit(doc);
    doc.save(doc.render().text);
    return readFileSync(file, 'utf8');
  }

  it('keeps the comments, key order and flow style of everything it does not edit', () => {
    writeFileSync(file, USER_FILE);
    const text = saveEdited((doc) => doc.setIn('concurrency', 'jobs', 4));
    expect(text).toContain('# Kiln on my laptop — keep this header');
    expect(text).toContain('# concurrency is tuned for 2 cores');
    expect(text).toContain('concurrency: { jobs: 4, per-repository: 1 }');
    expect(text).toContain('artifacts: 14d # two weeks is enough');
    expect(text).toContain('# the web front end');
    expect(text.indexOf('server:')).toBeLessThan(text.indexOf('concurrency:'));
    expect(text.indexOf('concurrency:')).toBeLessThan(text.indexOf('retention:'));
  });

  it('edits a repository\'s rate limit and branch priorities in place, keeping the flow style and comments', () => {
    writeFileSync(file, USER_FILE);
    let text = saveEdited((doc) => doc.setRepository('acme/web', { rateLimit: '30/min', priority: { 'release/*': 'critical', main: 'low' } }));
    expect(text).toContain('priority: { main: low, release/*: critical }');
    expect(text).toContain('rate-limit: 30/min');
    expect(text).toContain('# the web front end');
    expect(loadConfig(file).config?.repositories[0]).toMatchObject({ rateLimitPerMinute: 30, priority: { main: 'low', 'release/*': 'critical' } });
    text = saveEdited((doc) => doc.setRepository('acme/web', { rateLimit: null, priority: { main: null, 'release/*': null } }));
    expect(text).not.toContain('rate-limit');
    expect(text).not.toContain('priority');
    expect(loadConfig(file).config?.repositories[0]).toMatchObject({ priority: {} });
  });

  it('round-trips through loadConfig with the edits applied', () => {
    writeFileSync(file, USER_FILE);
    saveEdited((doc) => {
      doc.setRepository('acme/api', { url: 'https://github.com/acme/api.git', defaultBranch: 'trunk' });
      doc.setRepository('acme/web', { defaultBranch: 'develop' });
      doc.setTunnel('https://smee.io/abc');
      doc.setIn('retention', 'cache-size', '5GB');
    });
    const { config, diagnostics } = loadConfig(file);
    expect(diagnostics).toEqual([]);
    expect(config?.tunnel).toEqual({ url: 'https://smee.io/abc' });
    expect(config?.retention.cacheSizeBytes).toBe(5e9);
    expect(config?.retention.artifactsMs).toBe(14 * 86_400_000);
    expect(config?.repositories.map((r) => [r.name, r.url, r.defaultBranch])).toEqual([
      ['acme/web', '/srv/git/web.git', 'develop'],
      ['acme/api', 'https://github.com/acme/api.git', 'trunk'],
    ]);
    // Untouched fields of the edited repository survive.
    expect(config?.repositories[0].priority).toEqual({ main: 'high' });
    expect(config?.repositories[0].secrets).toEqual({ NPM_TOKEN: 'from-the-file', OTHER: 'x' });
  });

  it('removes a file secret and a webhook secret by value, and a repository, leaving the rest', () => {
    writeFileSync(file, USER_FILE);
    const text = saveEdited((doc) => {
      doc.removeSecret('acme/web', 'NPM_TOKEN');
      doc.removeWebhookSecret('acme/web', 'old-secret');
    });
    expect(text).not.toContain('from-the-file');
    expect(text).toContain('webhook-secrets: [ new-secret ]');
    expect(loadConfig(file).config?.repositories[0].secrets).toEqual({ OTHER: 'x' });
    saveEdited((doc) => expect(doc.removeRepository('acme/web')).toBe(true));
    expect(loadConfig(file).config?.repositories).toEqual([]);
    expect(readFileSync(file, 'utf8')).toContain('# Kiln on my laptop');
  });

  it('writes atomically: no temp file is left and the file keeps its mode', () => {
    writeFileSync(file, USER_FILE, { mode: 0o640 });
    saveEdited((doc) => doc.setTunnel(null));
    expect(readdirSync(dir)).toEqual(['kiln.config.yml']);
    expect(statSync(file).mode & 0o777).toBe(0o640);
  });

  it('never writes a file the engine could not load, and leaves the old one intact', () => {
    writeFileSync(file, USER_FILE);
    const doc = ConfigDocument.open(file, defaultConfig());
    doc.setIn('concurrency', 'jobs', 0);
    expect(() => doc.render()).toThrow(/kiln\.config\.yml:\d+:\d+: .*concurrency/);
    expect(readFileSync(file, 'utf8')).toBe(USER_FILE);
  });

  it('refuses to edit a file with a YAML error, naming the file', () => {
    writeFileSync(file, 'repositories: [\n');
    expect(() => ConfigDocument.open(file, defaultConfig())).toThrow(/kiln\.config\.yml has a YAML error/);
  });

  it('creates a new file from the running configuration, without secret values', () => {
    const config = defaultConfig();
    config.repositories.push({ name: 'acme/web', url: '/srv/web.git', defaultBranch: 'main', webhookSecrets: ['hook-value'], secrets: { TOKEN: 'job-value' }, priority: {} });
    const doc = ConfigDocument.open(file, config);
    expect(doc.existed).toBe(false);
    doc.setRepository('acme/api', { url: 'git@github.com:acme/api.git', defaultBranch: 'main' });
    doc.save(doc.render().text);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('hook-value');
    expect(text).not.toContain('job-value');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const loaded = loadConfig(file).config;
    expect(loaded?.repositories.map((r) => r.name)).toEqual(['acme/web', 'acme/api']);
    expect(loaded?.retention).toEqual(config.retention);
    expect(loaded?.concurrency).toEqual(config.concurrency);
  });

  it('adds a repository to an empty or missing repositories list in block style', () => {
    writeFileSync(file, '# mine\nrepositories: []\n');
    const text = saveEdited((doc) => doc.setRepository('acme/web', { url: '/srv/web.git', defaultBranch: 'main' }));
    expect(text).toBe('# mine\nrepositories:\n  - name: acme/web\n    url: /srv/web.git\n    default-branch: main\n');
  });

  it.each([
    [30 * 86_400_000, '30d'], [86_400_000 + 3_600_000, '1d1h'], [90_000, '1m30s'], [1500, 1500],
  ])('writes %d ms as %s', (ms, text) => {
    expect(durationValue(ms)).toBe(text);
  });

  it.each([
    [10 * 1024 ** 3, '10GiB'], [5e9, '5GB'], [1234, 1234],
  ])('writes %d bytes as %s', (bytes, text) => {
    expect(sizeValue(bytes)).toBe(text);
  });
});
