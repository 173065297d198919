import { describe, expect, it } from 'vitest';
import { dockerOptionsFor, EngineAddressError } from './engine-client.js';

const at = (address: string, tls?: { ca?: string; cert?: string; key?: string }) => ({ name: 'e', address, tls, source: 'test' });

describe('the dockerode options for an engine address', () => {
  it.each([
    ['unix:///var/run/docker.sock', undefined, { socketPath: '/var/run/docker.sock' }],
    ['npipe:////./pipe/docker_engine', undefined, { socketPath: '\\\\.\\pipe\\docker_engine' }],
    ['tcp://10.0.0.5:2375', undefined, { host: '10.0.0.5', port: '2375', protocol: 'http' }],
    ['tcp://build-box', { ca: 'CA' }, { host: 'build-box', port: '2376', protocol: 'https', ca: 'CA' }],
    ['ssh://builder@laptop.local', undefined, { host: 'laptop.local', port: '22', protocol: 'http' }],
  ])('%s', (address, tls, expected) => {
    expect(dockerOptionsFor(at(address, tls))).toMatchObject(expected);
  });

  it.each([
    ['docker.example.com', "engine 'e': 'docker.example.com' is not an engine address (expected unix:///path, tcp://host:port or ssh://user@host)"],
    ['ftp://h', "engine 'e': unsupported address scheme 'ftp:' in 'ftp://h' (use unix://, tcp:// or ssh://)"],
  ])('refuses %s by name', (address, message) => {
    expect(() => dockerOptionsFor(at(address))).toThrow(new EngineAddressError(message));
  });
});
