// Child process for the catch-up kill -9 test: starts an Engine (compiled JavaScript) whose jobs are
// parked (no container), reports each run it stores as a JSON line on stdout, then waits to be killed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [distDir, configFile, dataDir] = process.argv.slice(2);
const { Engine } = await import(pathToFileURL(join(distDir, 'src-main', 'engine', 'engine.js')).href);
const config = JSON.parse(readFileSync(configFile, 'utf8'));
const parked = {
  runJob: (request) => new Promise((resolve) => request.signal.addEventListener('abort', () => resolve({ status: 'cancelled', steps: [], logOffset: 0 }), { once: true })),
  reapOrphans: async () => {},
  ping: async () => ({ ok: true }),
};
const engine = await Engine.start({ config, dataDir, executor: parked, onError: () => {} });
engine.subscribe((e) => {
  if (e.type === 'run') process.stdout.write(`${JSON.stringify({ run: e.run.sha })}\n`);
});
setInterval(() => {}, 1000);
