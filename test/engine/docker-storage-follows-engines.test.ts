/**
 * Docker's storage on the health call is the local engine's, found again when Settings changes the
 * engines: replacing the local engine with a remote one drops it (a remote data root means nothing
 * here), adding a local one back finds it again. Real Engine, real Docker, real config file.
 */
import { afterEach, expect, it } from 'vitest';
import { startEngine, type EngineFixture } from './engine-fixture.js';

let f: EngineFixture | undefined;
afterEach(async () => { await f?.close(); f = undefined; });

const storagePath = async (e: EngineFixture['engine']): Promise<string | undefined> => (await e.health()).disk?.dockerStorage?.path;

it("reports Docker's storage of the local engine that the engines of Settings name, found again after each change", async () => {
  f = await startEngine({ repos: [] });
  const { engine, waitFor } = f;
  const root = await waitFor(() => storagePath(engine), 20_000, "Docker's storage at start");

  await engine.saveEngine({ name: 'far', create: true, address: 'tcp://127.0.0.1:9' });
  await waitFor(async () => (await storagePath(engine)) === undefined, 20_000, "Docker's storage to go with the local engine");

  await engine.saveEngine({ name: 'here', create: true, address: 'unix:///var/run/docker.sock' });
  expect(await waitFor(() => storagePath(engine), 20_000, "Docker's storage of the added local engine")).toBe(root);
});
