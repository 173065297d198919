import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../shared/diagnostics.js';
import { parseConfig } from './config-file.js';
import { engineLabels } from './engines-config.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-engines-config-'));
const file = join(dir, 'kiln.config.yml');
writeFileSync(join(dir, 'ca.pem'), 'CA PEM');
writeFileSync(join(dir, 'cert.pem'), 'CERT PEM');
writeFileSync(join(dir, 'key.pem'), 'KEY PEM');
writeFileSync(join(dir, 'id_ed25519'), 'SSH KEY');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('engines: in kiln.config.yml', () => {
  it('reads names, addresses, limits, labels (list or mapping) and TLS and SSH key files relative to the file', () => {
    const { config, diagnostics } = parseConfig(`engines:
  - name: workstation
    address: unix:///var/run/docker.sock
  - name: build-box
    address: tcp://10.0.0.5:2376
    tls: { ca: ca.pem, cert: cert.pem, key: key.pem }
    limit: 4
    labels: { arch: arm64, gpu: true, big: false }
  - name: laptop
    address: ssh://builder@laptop.local
    ssh-key: ${join(dir, 'id_ed25519')}
    labels: [big]
`, file);
    expect(diagnostics).toEqual([]);
    expect(config?.engines).toEqual([
      { name: 'workstation', address: 'unix:///var/run/docker.sock', limit: 2, labels: [] },
      { name: 'build-box', address: 'tcp://10.0.0.5:2376', limit: 4, labels: ['arch=arm64', 'gpu'], tls: { ca: 'CA PEM', cert: 'CERT PEM', key: 'KEY PEM' } },
      { name: 'laptop', address: 'ssh://builder@laptop.local', limit: 2, labels: ['big'], sshKey: 'SSH KEY' },
    ]);
  });

  it('leaves engines unset without the section (the engine the docker command would use)', () => {
    expect(parseConfig('concurrency: { jobs: 2 }\n', file).config?.engines).toBeUndefined();
  });

  it.each([
    ['a bad address', 'engines:\n  - name: x\n    address: docker.example.com\n', "kiln.config.yml:3:14: engines[0].address: 'docker.example.com' is not an engine address (use unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host)"],
    ['a duplicate name', 'engines:\n  - { name: x, address: "unix:///a" }\n  - { name: x, address: "unix:///b" }\n', "kiln.config.yml:3:13: engines[1].name: engine 'x' is configured twice"],
    ['a missing certificate file', 'engines:\n  - name: x\n    address: tcp://h:2376\n    tls: { ca: missing.pem }\n', `kiln.config.yml:4:16: engines[0].tls.ca: cannot read ${join(dir, 'missing.pem')} (file not found)`],
    ['TLS on a socket', 'engines:\n  - name: x\n    address: unix:///s\n    tls: { ca: ca.pem }\n', "kiln.config.yml:4:10: engines[0].tls: TLS applies to tcp:// addresses only, and 'x' is at unix:///s"],
    ['an unknown key', 'engines:\n  - name: x\n    address: unix:///s\n    host: y\n', "kiln.config.yml:4:5: unknown key 'host' in engines[0] (known keys: name, address, limit, labels, tls, ssh-key, host-key)"],
    ['a bad name', 'engines:\n  - name: "my engine"\n    address: unix:///s\n', "kiln.config.yml:2:11: engines[0].name must be letters, digits, '.', '_' or '-', got 'my engine'"],
  ])('reports %s with its position', (_what, text, expected) => {
    const { config, diagnostics } = parseConfig(text, file);
    expect(config).toBeUndefined();
    expect(diagnostics.map((d) => formatDiagnostic({ ...d, file: 'kiln.config.yml' }))).toEqual([expected]);
  });

  it.each([
    [['gpu', 'big'], ['gpu', 'big']],
    [{ arch: 'arm64', gpu: true, slow: false, cores: 8 }, ['arch=arm64', 'gpu', 'cores=8']],
    [null, []],
  ])('reads labels %j as %j', (raw, labels) => {
    expect(engineLabels(raw)).toEqual(labels);
  });
});
