// Child process for the kill -9 test of debug mode: starts an Engine (compiled JavaScript) on the
// given data directory, starts a run with debug, reports once its failed job is kept, then waits
// to be killed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [distDir, configFile, dataDir, keepMs] = process.argv.slice(2);
const { Engine } = await import(pathToFileURL(join(distDir, 'src-main', 'engine', 'engine.js')).href);
const config = JSON.parse(readFileSync(configFile, 'utf8'));
const engine = await Engine.start({ config, dataDir, debug: { keepMs: Number(keepMs) }, onError: () => undefined });
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const { runIds } = await engine.triggerRun({ repo: config.repositories[0].name, branch: 'main', debug: true });
const timer = setInterval(async () => {
  const kept = await engine.listKeptJobs();
  if (kept.length > 0) {
    clearInterval(timer);
    say({ instanceId: engine.instanceId, runId: runIds[0], jobId: kept[0].jobId });
  }
}, 100);
setInterval(() => {}, 1000);
