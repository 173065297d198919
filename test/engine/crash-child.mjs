// Child process for the kill -9 recovery test: starts an Engine (compiled JavaScript) on the given
// data directory, triggers one push, reports progress as JSON lines on stdout, then waits to be killed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [distDir, configFile, dataDir, eventFile, maxAttempts] = process.argv.slice(2);
const { Engine } = await import(pathToFileURL(join(distDir, 'src-main', 'engine', 'engine.js')).href);
const config = JSON.parse(readFileSync(configFile, 'utf8'));
const event = JSON.parse(readFileSync(eventFile, 'utf8'));
const engine = await Engine.start({ config, dataDir, queue: { maxAttempts: Number(maxAttempts) } });
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
say({ instanceId: engine.instanceId });
engine.subscribe((e) => {
  // Logs reach their file in batches (every 100 ms, no fsync per line): report once the line is on disk.
  if (e.type === 'log' && e.lines.some((l) => l.text === 'started')) setTimeout(() => say({ ready: e.jobId }), 500);
});
const outcome = await engine.handleEvent(event);
say({ runIds: outcome.runIds, reason: outcome.reason });
setInterval(() => {}, 1000);
