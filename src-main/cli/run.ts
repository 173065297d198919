/**
 * `kiln run [FILE] [--repo DIR] [--ref REF] [--event E] [--secret NAME=VALUE]… [--env K=V]… [--parallel N] [--engine NAME|ADDRESS] [--artifacts DIR]`
 *
 * Runs a pipeline once on one Docker engine: --engine, else the one the `docker` command would use
 * (DOCKER_HOST, the current Docker context, the default socket; see executor/engines/engine-address.ts). The workspace is the
 * commit REF (default HEAD) when DIR is a git repository — uncommitted changes are not included, and
 * a run at HEAD names them on stderr; --worktree takes the working tree instead — otherwise DIR as it
 * is on disk (run-workspace.ts). The pipeline file is read from disk (default DIR/.kiln.yml).
 * Logs go to stdout as `[job › step] line`; then, per job, its annotations, test reports, summary and
 * outputs (run-results.ts), a summary table, and where each job's artifacts went (run-artifacts.ts). Ctrl-C cancels the run: steps
 * get SIGTERM, containers are removed. Exit 0 passed, 1 failed/timed out/cancelled, 2 bad input.
 * With --debug, a failing step turns this terminal into a shell in its container (debug-attach.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { formatDiagnostic, hasErrors } from '../../shared/diagnostics.js';
import type { Plan } from '../../shared/model/plan.js';
import type { LogEntry } from '../../shared/model/run.js';
import { isSuccess } from '../../shared/model/status.js';
import type { TriggerEvent } from '../../shared/model/trigger-event.js';
import { DockerExecutor } from '../executor/docker-executor.js';
import { formatDuration } from '../../shared/format.js';
import { runPlan } from '../executor/local-runner.js';
import { describeEndpoint } from '../executor/engines/engine-address.js';
import { resolveEngineOption } from './engine-option.js';
import type { LocalJobOutcome } from '../executor/local-runner.js';
import { planPipeline } from '../pipeline/plan.js';
import type { PipelineJob } from '../pipeline/pipeline-model.js';
import { readPipelineFile } from './validate.js';
import { terminalAttach } from './debug-attach.js';
import { RunResults, wantsColour } from './run-results.js';
import { parseCommandArgs, parseEvent, usageError as printUsageError } from './args.js';
import { cacheHome, checkRepoDir, mirrorsDir, resolveWorkspace } from './run-workspace.js';
import { chainHooks, localCacheDir, openLocalCaches, type LocalCaches } from './run-cache.js';
import { KEPT_RUNS, LocalArtifacts, pruneRuns, repoArtifactsDir, runDirName } from './run-artifacts.js';


const USAGE = `Usage: kiln run [FILE] [--repo DIR] [--ref REF] [--event E] [--secret NAME=VALUE]... [--env K=V]... [--parallel N] [--engine NAME|ADDRESS] [--worktree] [--debug] [--artifacts DIR]

Runs a pipeline once on one Docker engine and prints its logs, then per job its annotations, test
reports (failed cases), summary ($KILN_SUMMARY, as text) and outputs, and a table of the jobs.
  FILE              the pipeline file (default DIR/.kiln.yml)
  --repo DIR        the checkout to run (default: the current directory); a git repository runs
                    at commit REF (uncommitted changes are not included: a run at HEAD names them),
                    any other directory as is
  --worktree        in a git repository, run the working tree as it is on disk (uncommitted and
                    untracked files included, .git left out) instead of a commit
  --ref REF         branch, tag or commit to run in a git repository (default HEAD)
  --event E         push | tag | pull_request | manual (default push)
  --secret N=V      a secret (repeatable); --secret N alone takes the value of the environment variable N;
                    only the jobs that list N under secrets: get it (a name no job lists is warned about
                    and not masked; a value under 4 characters is warned about: it is masked everywhere)
  --env K=V         a variable for the pipeline (repeatable)
  --parallel N      jobs run at the same time (default 2)
  --engine E        the Docker engine: an address (unix:///path, tcp://host:2376, ssh://user@host),
                    a name under engines: in ./kiln.config.yml, or a Docker context's name
                    (default: the engine the docker command would use)
  --artifacts DIR   where each job's artifacts: are copied, as DIR/<job>/<path> (default: a directory
                    per run under ~/.cache/kiln/run/artifacts; the last 10 runs of each repository are kept)
  --debug           when a step fails, this terminal becomes a shell in the job's container (its
                    workspace, the step's environment, its services); exiting the shell continues
                    the teardown. Needs a terminal (stdin a TTY).
cache: is kept between runs under ~/.cache/kiln/run (keyed by DIR, branch and key; safe to delete).
artifacts: are copied out of each job (the same patterns, when: and limits as under kiln serve) and
put into the workspaces of the jobs that need it; the run ends with one line per job saying where.
Git repositories are fetched into bare mirrors under ~/.cache/kiln/mirrors (safe to delete).
Exit status: 0 passed (or every job was skipped), 1 failed, 2 bad input. Ctrl-C cancels the run and removes its containers.`;

const OPTIONS = {
  repo: { type: 'string' },
  ref: { type: 'string' },
  event: { type: 'string' },
  secret: { type: 'string', multiple: true },
  env: { type: 'string', multiple: true },
  parallel: { type: 'string' },
  debug: { type: 'boolean' },
  engine: { type: 'string' },
  worktree: { type: 'boolean' },
  artifacts: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usageError = (message: string): number => printUsageError('run', message);

/** NAME=VALUE pairs; returns an error message for the first malformed one. */
function parsePairs(values: string[] | undefined, what: string, fromEnv: boolean): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const pair of values ?? []) {
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `invalid ${what} '${name}': expected NAME=VALUE`;
    if (eq === -1) {
      if (!fromEnv) return `invalid ${what} '${pair}': expected NAME=VALUE`;
      const value = process.env[name];
      if (value === undefined) return `--secret ${name}: the environment variable ${name} is not set`;
      out[name] = value;
    } else {
      out[name] = pair.slice(eq + 1);
    }
  }
  return out;
}

/**
 * A `--secret` that no job lists under `secrets:` reaches no step: secrets are injected only into
 * the jobs that declare them. Say so, and how to declare it, rather than letting the run quietly
 * go without it — and leave it out of the run, so it is not masked either (nothing can print it;
 * masking it would garble every log line that happens to contain its characters). A declared value
 * shorter than 4 characters is masked, as the server masks it, wherever those characters appear:
 * warn about that. Names only: a value never reaches the terminal.
 */
function secretsGiven(jobs: readonly PipelineJob[], secrets: Record<string, string>, file: string): Record<string, string> {
  const declared = new Set(jobs.flatMap((j) => j.secrets));
  const example = jobs[0]?.key ?? 'build';
  const given: Record<string, string> = {};
  for (const [name, value] of Object.entries(secrets)) {
    if (!declared.has(name)) {
      process.stderr.write(`kiln run: warning: --secret ${name} is declared by no job in ${file}, so no step will see it; `
        + `declare it in the job that needs it, e.g. jobs: { ${example}: { secrets: [${name}] } }\n`);
      continue;
    }
    given[name] = value;
    if (value.length > 0 && value.length < 4) {
      process.stderr.write(`kiln run: warning: --secret ${name} is ${value.length} character${value.length === 1 ? '' : 's'} long; `
        + 'it will be masked as *** wherever those characters appear in the logs\n');
    }
  }
  return given;
}

function printSummary(plan: Plan, jobs: Map<string, LocalJobOutcome>, durations: Map<string, number>): void {
  const rows = plan.jobs.map((j) => {
    const outcome = jobs.get(j.id);
    const ms = durations.get(j.id);
    return [j.name, outcome?.status ?? 'skipped', ms === undefined ? '-' : formatDuration(ms)];
  });
  const header = ['JOB', 'STATUS', 'DURATION'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  process.stdout.write(`\n${line(header)}\n${rows.map(line).join('\n')}\n`);
  for (const j of plan.jobs) {
    const outcome = jobs.get(j.id);
    if (outcome && 'error' in outcome && outcome.error && outcome.status !== 'passed') process.stdout.write(`${j.name}: ${outcome.error}\n`);
  }
}

export async function command(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('run', USAGE, argv, OPTIONS);
  if (!parsed.ok) return parsed.exitCode;
  const v = parsed.values;
  const kind = parseEvent(v.event, 'push');
  if (typeof kind === 'object') return usageError(kind.error);
  const parallel = v.parallel === undefined ? 2 : Number(v.parallel);
  if (!Number.isInteger(parallel) || parallel < 1) return usageError(`--parallel must be a positive whole number, got '${v.parallel}'`);
  const secrets = parsePairs(v.secret, 'secret', true);
  if (typeof secrets === 'string') return usageError(secrets);
  const env = parsePairs(v.env, 'variable', false);
  if (typeof env === 'string') return usageError(env);
  if (v.debug && !process.stdin.isTTY) return usageError('--debug needs a terminal: stdin is not a TTY, so there is nowhere to open the shell');

  const repoDir = resolve(v.repo ?? '.');
  const file = parsed.file ?? join(v.repo ?? '.', '.kiln.yml');
  const badRepo = v.repo === undefined ? undefined : await checkRepoDir(repoDir);
  if (badRepo) return usageError(badRepo);

  // The git queries run as child processes: start them, then parse the pipeline and load the
  // Docker client while they run (both are CPU work on this thread).
  const workspace = resolveWorkspace(repoDir, v.ref, v.worktree === true);
  const read = await readPipelineFile(file, 'run');
  const chosen = v.engine === undefined ? undefined : resolveEngineOption(v.engine);
  if (chosen && 'error' in chosen) return usageError(chosen.error);
  let executor: DockerExecutor | undefined;
  try {
    executor = read?.pipeline && !hasErrors(read.diagnostics)
      ? new DockerExecutor({ instanceId: `cli-${process.pid}-${randomBytes(3).toString('hex')}`, mirrorsDir: mirrorsDir(), endpoint: chosen?.endpoint })
      : undefined;
  } catch (err) {
    // An engine address it cannot use (--engine, DOCKER_HOST, a Docker context): say which.
    return usageError(err instanceof Error ? err.message : String(err));
  }
  const ws = await workspace;
  if ('error' in ws) return usageError(ws.error);
  const { source, sha, branch } = ws;
  const event: TriggerEvent = {
    kind,
    repo: basename(repoDir),
    sha,
    triggeredBy: 'cli',
    ...(kind === 'tag' ? { tag: v.ref ?? branch, ref: `refs/tags/${v.ref ?? branch}` } : { branch, ref: `refs/heads/${branch}` }),
    ...(kind === 'pull_request' ? { baseBranch: branch } : {}),
  };

  if (!read) return 2;
  const planned = read.pipeline && !hasErrors(read.diagnostics) ? planPipeline(read.pipeline, event, { env }) : undefined;
  const diagnostics = [...read.diagnostics, ...(planned?.diagnostics ?? [])];
  const errors = !planned?.plan || hasErrors(diagnostics);
  for (const d of diagnostics) (errors && d.severity === 'error' ? process.stdout : process.stderr).write(`${formatDiagnostic(d)}\n`);
  if (errors || !planned?.plan || !executor || !read.pipeline) return 2;
  const plan = planned.plan;
  if (ws.warning) process.stderr.write(`${ws.warning}\n`);
  const given = secretsGiven(read.pipeline.jobs, secrets, file);
  const artifacts = new LocalArtifacts({
    dir: v.artifacts === undefined ? join(repoArtifactsDir(cacheHome(), repoDir), runDirName()) : v.artifacts,
    jobs: plan.jobs,
  });
  if (!artifacts.wanted && v.artifacts !== undefined) {
    process.stderr.write(`kiln run: warning: --artifacts ${v.artifacts}: no job in ${file} declares artifacts:, so nothing will be copied there\n`);
  }
  if (artifacts.wanted) {
    try {
      if (v.artifacts === undefined) await pruneRuns(dirname(artifacts.dir), KEPT_RUNS - 1);
      await mkdir(artifacts.dir, { recursive: true });
    } catch (err) {
      return usageError(`cannot create the artifacts directory ${artifacts.dir}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  let caches: LocalCaches | undefined;
  try {
    caches = openLocalCaches(localCacheDir(cacheHome()), repoDir, `local-${process.pid}`, event, plan.jobs);
  } catch (err) {
    // A cache is an optimisation: the run goes on without it.
    process.stderr.write(`kiln run: warning: caches are off for this run: ${err instanceof Error ? err.message : String(err)}\n`);
  }

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\nkiln run: cancelling (steps get SIGTERM, containers are removed); Ctrl-C again to quit at once\n');
      controller.abort();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  const names = new Map(plan.jobs.map((j) => [j.id, j]));
  const attach = v.debug ? terminalAttach(executor.docker) : undefined;
  const started = new Map<string, number>();
  const durations = new Map<string, number>();
  const results = new RunResults();
  // While a debug shell owns the terminal, every line of the run waits for it (attach.print).
  const say = (text: string): void => {
    if (attach) attach.print(text);
    else process.stdout.write(text);
  };
  const print = (jobId: string, line: LogEntry): void => {
    const job = names.get(jobId);
    const stepName = line.step === null ? undefined : job?.steps[line.step]?.name;
    const prefix = stepName === undefined ? `[${job?.name ?? jobId}]` : `[${job?.name ?? jobId} › ${stepName}]`;
    say(`${prefix} ${line.text}\n`);
  };
  process.stdout.write(`kiln run: ${plan.pipeline} on ${source.kind === 'git' ? `${repoDir} at ${sha.slice(0, 12)}` : repoDir} (${plan.jobs.length} job${plan.jobs.length === 1 ? '' : 's'}) on the Docker engine ${describeEndpoint(executor.endpoint)}\n`);
  try {
    const outcome = await runPlan(plan, {
      executor,
      event,
      source,
      secrets: given,
      parallelism: parallel,
      signal: controller.signal,
      onLog: print,
      onRecord: (id, record) => results.record(id, record),
      hooksFor: (job) => {
        // The server's order: the needs' artifacts, the cache, the steps, the cache saved, test reports, artifacts.
        const own = artifacts.hooksFor(job);
        return chainHooks(own.before, caches?.hooksFor(job), results.hooksFor(job), own.after);
      },
      debugFor: attach ? (job) => attach.jobDebug(job.name) : undefined,
      onJobStart: (id) => started.set(id, Date.now()),
      onJob: (id, result) => {
        const t = started.get(id);
        if (t !== undefined) durations.set(id, Date.now() - t);
        if (result.status === 'skipped') say(`[${names.get(id)?.name ?? id}] skipped\n`);
      },
    });
    results.print(plan, outcome.jobs, { write: (text) => process.stdout.write(text), colour: wantsColour(process.stdout) });
    printSummary(plan, outcome.jobs, durations);
    for (const line of artifacts.lines(plan.jobs, (id) => outcome.jobs.get(id)?.status)) process.stdout.write(`${line}\n`);
    process.stdout.write(`${outcome.status}\n`);
    return isSuccess(outcome.status) ? 0 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    // An ssh:// engine's connection would keep the process alive after the run.
    executor.close();
    caches?.close();
  }
}
