/**
 * Engines on the settings page without Docker: what a save writes to kiln.config.yml (comments
 * kept, `vault` where a path would be) and to the vault (encrypted, forgotten on removal), how the
 * vault's material joins the configuration, and the input checks that need no certificate.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyFileEncryptor, SecretVault } from '../storage/secret-vault.js';
import { ConfigDocument } from './config-document.js';
import { defaultConfig, loadConfig } from './config-file.js';
import { checkEngineInput } from './engine-input.js';
import { engineSettingsOf, engineWrites, mergeEngineMaterial } from './engine-settings.js';
import { SettingsService, type SettingsChange } from './settings-service.js';

const FILE = `# my engines
engines:
  - name: near # the workstation
    address: unix:///var/run/docker.sock
`;

describe('an engine saved to kiln.config.yml and the vault', () => {
  let dir: string;
  let file: string;
  let vault: SecretVault;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kiln-engine-settings-'));
    file = join(dir, 'kiln.config.yml');
    writeFileSync(file, FILE);
    vault = new SecretVault(join(dir, 'secrets.json'), keyFileEncryptor(join(dir, 'secret.key')));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes `vault` for the material, keeps the comments, and reads the text back from the vault only', () => {
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    const doc = ConfigDocument.open(file, defaultConfig());
    const change = checkEngineInput({ name: 'far', create: true, address: 'ssh://ci@far.example', labels: ['gpu'], sshKey: key, hostKey: `SHA256:${'A'.repeat(43)}` }, { indexOf: (n) => doc.engineNames().indexOf(n), count: 1, addressOf: () => undefined });
    const writes = engineWrites(change, undefined);
    doc.setEngine(change.name, writes.file);
    const { text, config } = doc.render();
    doc.save(text);
    vault.updateEngine('far', writes.vault);
    expect(readFileSync(file, 'utf8')).toBe(`${FILE}  - name: far\n    address: ssh://ci@far.example\n    labels: [ gpu ]\n    host-key: SHA256:${'A'.repeat(43)}\n    ssh-key: vault\n`);
    expect(readFileSync(join(dir, 'secrets.json'), 'utf8')).not.toContain(key.split('\n')[1]);
    const far = config.engines?.[1];
    expect(far).toMatchObject({ name: 'far', vaultParts: ['sshKey'], hostKey: `SHA256:${'A'.repeat(43)}` });
    expect(far?.sshKey).toBeUndefined();
    expect(mergeEngineMaterial(config.engines, vault.loadEngines())).toEqual([]);
    expect(far?.sshKey).toBe(key.trim() + '\n');
    expect(engineSettingsOf(far!)).toEqual({ name: 'far', address: 'ssh://ci@far.example', limit: 2, labels: ['gpu'], hostKey: `SHA256:${'A'.repeat(43)}`, tls: {}, sshKey: 'vault' });
    vault.removeEngine('far');
    expect(vault.engineIndex()).toEqual({});
  });

  it('names the part the file says is in the vault when the vault lacks it', () => {
    writeFileSync(file, `${FILE}  - name: far\n    address: tcp://far:2376\n    tls: { ca: vault, cert: certs/cert.pem }\n`);
    writeFileSync(join(dir, 'certs-missing'), '');
    const { config, diagnostics } = loadConfig(file);
    expect(diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(/^engines\[1\]\.tls\.cert: cannot read .*cert\.pem \(file not found\)$/)]);
    expect(config).toBeUndefined();
    writeFileSync(file, `${FILE}  - name: far\n    address: tcp://far:2376\n    tls: { ca: vault }\n`);
    const loaded = loadConfig(file).config;
    expect(mergeEngineMaterial(loaded?.engines, {})).toEqual(["engines[1].tls.ca: kiln.config.yml says engine 'far' keeps it in the secret vault, which holds none; set it again in Settings"]);
  });

  it('moves the material of engines given in memory into the vault when the first save creates the file', () => {
    rmSync(file);
    const config = { ...defaultConfig(), engines: [{ name: 'far', address: 'tcp://far:2376', limit: 2, labels: [], tls: { ca: 'CA-TEXT', cert: 'CERT-TEXT', key: 'KEY-TEXT' } }] };
    const changes: SettingsChange[] = [];
    const service = new SettingsService({ config, configFile: file, vault, now: () => 0, applied: (c) => changes.push(c) });
    service.saveServerSettings({ concurrency: { jobs: 3 } }, { state: 'disabled' });
    expect(readFileSync(file, 'utf8')).toMatch(/tls:\n\s+ca: vault\n\s+cert: vault\n\s+key: vault/);
    expect(readFileSync(join(dir, 'secrets.json'), 'utf8')).not.toContain('KEY-TEXT');
    expect(vault.loadEngines()).toEqual({ far: { ca: 'CA-TEXT', cert: 'CERT-TEXT', key: 'KEY-TEXT' } });
    // The live engine keeps its material: the pool has nothing to reconnect.
    expect(config.engines[0].tls).toEqual({ ca: 'CA-TEXT', cert: 'CERT-TEXT', key: 'KEY-TEXT' });
    expect(service.engines()[0].tls).toEqual({ ca: 'vault', cert: 'vault', key: 'vault' });
  });

  it('renames an engine in place: its entry keeps its comments and fields, its material moves to the new name, and the change says so', () => {
    writeFileSync(file, FILE.replace('unix:///var/run/docker.sock', 'tcp://near:2376\n    tls: { key: vault }\n    limit: 3'));
    vault.updateEngine('near', { key: 'KEY-TEXT' });
    const { config, diagnostics } = loadConfig(file);
    if (!config) throw new Error(`the test's kiln.config.yml does not load: ${JSON.stringify(diagnostics)}`);
    const changes: SettingsChange[] = [];
    const service = new SettingsService({ config, configFile: file, vault, now: () => 0, applied: (c) => changes.push(c) });
    const saved = service.saveEngine({ name: 'near', rename: 'bench', labels: ['gpu'] });
    expect(saved).toMatchObject({ name: 'bench', address: 'tcp://near:2376', limit: 3, labels: ['gpu'], tls: { key: 'vault' } });
    expect(readFileSync(file, 'utf8')).toBe('# my engines\nengines:\n  - name: bench # the workstation\n    address: tcp://near:2376\n    tls: { key: vault }\n    limit: 3\n    labels: [ gpu ]\n');
    expect(vault.loadEngines()).toEqual({ bench: { key: 'KEY-TEXT' } });
    expect(changes.at(-1)).toMatchObject({ engines: true, renamedEngine: { from: 'near', to: 'bench' } });
    expect(config.engines?.map((e) => [e.name, e.tls?.key])).toEqual([['bench', 'KEY-TEXT']]);
  });

  it('drops TLS when an engine moves from tcp:// to ssh://', () => {
    const change = checkEngineInput({ name: 'far', address: 'ssh://ci@far' }, { indexOf: () => 0, count: 1, addressOf: () => 'tcp://far:2376' });
    expect(engineWrites(change, 'tcp://far:2376')).toEqual({
      file: { address: 'ssh://ci@far', limit: undefined, labels: undefined, hostKey: undefined, material: { ca: null, cert: null, key: null } },
      vault: { ca: null, cert: null, key: null },
    });
  });
});

describe('checking an engine sent by the settings page', () => {
  const at = { indexOf: (n: string) => (n === 'near' ? 0 : -1), count: 1, addressOf: (n: string) => (n === 'near' ? 'unix:///var/run/docker.sock' : undefined) };
  it.each([
    [{ name: '-x', create: true, address: 'unix:///s' }, /^engines\[\]\.name: must start with a letter or digit/],
    [{ name: 'near', create: true, address: 'unix:///s' }, /^engines\[0\]\.name: an engine named 'near' is already configured/],
    [{ name: 'b', create: true, address: 'unix://' }, /^engines\[1\]\.address: 'unix:\/\/' names no socket path/],
    [{ name: 'b', create: true, address: 'ssh://' }, /^engines\[1\]\.address: 'ssh:\/\/' (names no host|is not a valid ssh:\/\/ address)/],
    [{ name: 'b', create: true, address: 'ssh://u@h', sshKey: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) }, /^engines\[1\]\.ssh-key: is not a usable SSH private key \(a PKCS#8 key, which SSH does not read/],
    [{ name: 'b', create: true, address: 'tcp://h:2376/x' }, /^engines\[1\]\.address: 'tcp:\/\/h:2376\/x' has a path/],
    [{ name: 'b', create: true, address: 'unix:///s', labels: ['a b'] }, /^engines\[1\]\.labels\[0\]: "a b" is not a label/],
    [{ name: 'b', create: true, address: 'unix:///s', limit: 1.5 }, /^engines\[1\]\.limit: must be a whole number/],
    [{ name: 'b', create: true, address: 'unix:///s', colour: 'red' }, /^engines\[1\]: unknown field 'colour'/],
    [{ name: 'b', create: true, address: 'tcp://h:2376', tls: { key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' } }, /^engines\[1\]\.tls\.key: is not a PEM private key/],
    [{ name: 'b', create: true, address: 'ssh://u@h', sshKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----' }, /^engines\[1\]\.ssh-key: is not a usable SSH private key/],
    [{ name: 'near', sshKey: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) }, /^engines\[0\]\.ssh-key: an SSH key applies to ssh:\/\/ addresses only/],
  ])('refuses %j naming the field', (input, message) => {
    expect(() => checkEngineInput(input, at)).toThrow(message);
  });

  it('refuses a name another engine has with CONFLICT naming the field, on adding and on renaming', () => {
    const two = { indexOf: (n: string) => ['near', 'far'].indexOf(n), count: 2, addressOf: () => 'unix:///s' };
    expect(() => checkEngineInput({ name: 'far', rename: 'near' }, two)).toThrow(expect.objectContaining({ code: 'CONFLICT', message: expect.stringMatching(/^engines\[1\]\.name: an engine named 'near' is already configured/) }));
    expect(() => checkEngineInput({ name: 'near', create: true, address: 'unix:///s' }, two)).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    expect(() => checkEngineInput({ name: 'far', rename: 'bad name' }, two)).toThrow(/^engines\[1\]\.name: must start with a letter or digit/);
    expect(checkEngineInput({ name: 'far', rename: 'far' }, two).rename).toBeUndefined();
  });

  it('refuses to update an engine that is not configured with NOT_FOUND', () => {
    expect(() => checkEngineInput({ name: 'ghost', limit: 1 }, at)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });
});
