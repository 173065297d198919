/**
 * `kiln run --engine NAME|ADDRESS`: which Docker engine that one run uses. An address
 * (unix://, tcp://, ssh://) is used as is; a name is looked up under `engines:` in
 * ./kiln.config.yml, then among the Docker contexts (`docker context ls`). An unknown name is a
 * usage error naming where it was looked for.
 */
import { existsSync } from 'node:fs';
import { discoverLocalEngine, type EngineEndpoint } from '../executor/engines/engine-address.js';
import { CONFIG_FILE, loadConfig } from '../settings/config-file.js';

export function resolveEngineOption(value: string, configFile = CONFIG_FILE): { endpoint: EngineEndpoint } | { error: string } {
  if (/^[a-z]+:\/\//.test(value)) return { endpoint: { name: value, address: value, source: '--engine' } };
  const looked: string[] = [];
  if (existsSync(configFile)) {
    const { config } = loadConfig(configFile);
    const configured = config?.engines?.find((e) => e.name === value);
    // The vault belongs to `kiln serve` (its data directory); a one-off run does not open it.
    if (configured?.vaultParts?.length) {
      return { error: `--engine '${value}': ${configFile} keeps this engine's ${configured.vaultParts.map((p) => (p === 'sshKey' ? 'ssh-key' : `tls.${p}`)).join(', ')} in Kiln's secret vault (set in Settings), which kiln run does not read: name the PEM files there instead (tls: { ca: ca.pem, … }, ssh-key: FILE), or run the pipeline through kiln serve` };
    }
    if (configured) return { endpoint: { name: configured.name, address: configured.address, tls: configured.tls, sshKey: configured.sshKey, hostKey: configured.hostKey, source: `engines: in ${configFile}` } };
    looked.push(`engines: in ${configFile}`);
  }
  const env = { ...process.env, DOCKER_HOST: undefined, DOCKER_CONTEXT: value };
  const found = discoverLocalEngine(env);
  if (found.endpoint.name === value) return { endpoint: { ...found.endpoint, source: `--engine (docker context '${value}')` } };
  looked.push(`the Docker contexts (${found.tried[found.tried.length - 2] ?? 'none'})`);
  return { error: `--engine '${value}' is neither an address (unix:///path, tcp://host:2376, ssh://user@host) nor a known engine; looked in ${looked.join(' and ')}` };
}
