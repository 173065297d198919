// Folding in the log viewer at scale, in Debian's Chromium, against the real engine and HTTP server:
// a real Docker job prints 1,000,000 lines in 10,000 `::group::` sections of 100 lines (the engine
// stores the groups as it goes), a second job prints the same 1,000,000 lines without markers, and a
// third the same five steps of 100 lines each — the baseline, measured in the same run.
// Measures (targets): first lines on screen < 1 s; folding (and unfolding) a group, and a whole step
// of 200,000 lines (with and without groups), in under 50 ms from the click to the rows on screen,
// every time: judged on the p99 (p50 and max shown too); and the log pages a step fold fetches.
// Baselines: the same first lines of the log without groups; folding a step of the 500-line log.
// BENCH_LINES (default 1,000,000) runs a smaller log for a quick look; BENCH_TOGGLES (default 10) is
// how many times each group or step is folded and unfolded at each place.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium } from 'playwright-core';
import { defaultConfig } from '../dist/src-main/settings/config-file.js';
import { Engine } from '../dist/src-main/engine/engine.js';
import { startServer } from '../dist/src-main/http/app.js';

const IMAGE = 'kiln-test/busybox:1';
const STEPS = 5;
const LINES = Number(process.env.BENCH_LINES ?? 1_000_000);
const PER_STEP = Math.round(LINES / STEPS / 100) * 100;
const TOGGLES = Number(process.env.BENCH_TOGGLES ?? 10);
const GROUP_LINES = 100; // the ::group:: line, 98 lines, the ::endgroup:: line
const SMALL_PER_STEP = 100;
const REPO = 'bench/groups';
const root = process.cwd();

if (!existsSync(join(root, 'dist-renderer', 'index.html'))) {
  execFileSync('npx', ['vite', 'build', '--config', 'vite.renderer.config.ts', '--logLevel', 'warn'], { stdio: 'inherit' });
}
try {
  execFileSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore' });
} catch {
  execFileSync('npx', ['tsx', '-e', "import('./test/helpers/test-image.ts').then((m) => m.ensureTestImages())"], { stdio: 'inherit' });
}

// Line i of a step: the first of each block of GROUP_LINES opens a group, the last closes it
// (`marker` 0 prints the same count of ordinary lines instead).
const stepScript = (k, marker, perStep) => `awk 'BEGIN { for (i = ${k * perStep}; i < ${(k + 1) * perStep}; i++) {
            r = i % ${GROUP_LINES};
            if (${marker} && r == 0) printf "::group::Block %d\\n", i / ${GROUP_LINES};
            else if (${marker} && r == ${GROUP_LINES - 1}) printf "::endgroup::\\n";
            else printf "line %d ok mod %d\\n", i, i % 97 } }'`;
const job = (name, marker, perStep = PER_STEP) => `  ${name}:
    image: ${IMAGE}
    timeout: 30m
    steps:
${Array.from({ length: STEPS }, (_, k) => `      - name: Part ${k + 1}
        run: |
          ${stepScript(k, marker, perStep)}
`).join('')}`;
const PIPELINE = `name: groups-bench
on: { manual: true }
jobs:
${job('grouped', 1)}${job('flat', 0)}${job('small', 0, SMALL_PER_STEP)}`;

function git(cwd, ...args) {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'B', GIT_AUTHOR_EMAIL: 'b@example.com', GIT_COMMITTER_NAME: 'B', GIT_COMMITTER_EMAIL: 'b@example.com' } });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const median = (xs) => pct(xs, 0.5);

const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-groups-'));
const repoDir = join(dir, 'repo');
execFileSync('git', ['init', '-q', '-b', 'main', repoDir]);
writeFileSync(join(repoDir, '.kiln.yml'), PIPELINE);
git(repoDir, 'add', '.');
git(repoDir, 'commit', '-q', '-m', 'groups bench');

const config = defaultConfig();
config.server.port = 0;
config.concurrency = { jobs: 1, perRepository: 1 };
config.repositories.push({ name: REPO, url: repoDir, defaultBranch: 'main', webhookSecrets: [], secrets: {}, priority: {} });
const engine = await Engine.start({ config, dataDir: join(dir, 'data'), onError: () => undefined });
const server = await startServer({ engine, port: 0, staticDir: join(root, 'dist-renderer') });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

try {
  // 1. Produce both logs through a real run (one job at a time: the same machine for each).
  const t0 = performance.now();
  const { runIds: [runId] } = await engine.triggerRun({ repo: REPO, branch: 'main' });
  let run = await engine.getRun(runId);
  while (run.status === 'queued' || run.status === 'running') { await sleep(500); run = await engine.getRun(runId); }
  const produceS = (performance.now() - t0) / 1000;
  console.error(`produced both logs in ${produceS.toFixed(0)} s`);
  const grouped = run.jobs.find((j) => j.name === 'grouped');
  const flat = run.jobs.find((j) => j.name === 'flat');
  const small = run.jobs.find((j) => j.name === 'small');
  const groups = await engine.getLogGroups(grouped.id);
  const totals = { grouped: (await engine.getLog(grouped.id, 0, 1)).total, flat: (await engine.getLog(flat.id, 0, 1)).total };
  if (run.status !== 'passed' || groups.length !== (STEPS * PER_STEP) / GROUP_LINES || totals.grouped < STEPS * PER_STEP) {
    throw new Error(`the run ended ${run.status} with ${groups.length} groups and ${totals.grouped} lines (${run.jobs.map((j) => `${j.name}: ${j.status}${j.error ? `, ${j.error}` : ''}`).join('; ')})`);
  }
  const jobUrl = (j) => `${server.url}/#/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(j.id)}`;
  const apiSamples = [];
  for (let i = 0; i < 3; i++) {
    const g0 = performance.now();
    await (await fetch(`${server.url}/api/jobs/${grouped.id}/log/groups`)).json();
    apiSamples.push(performance.now() - g0);
  }
  const groupsApiMs = median(apiSamples);

  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.addInitScript(() => {
    const seen = () => document.querySelector('.log-line[data-seq="0"] .txt span');
    const obs = new MutationObserver(() => { if (seen()) { window.__firstLineAt = performance.now(); obs.disconnect(); } });
    document.addEventListener('DOMContentLoaded', () => obs.observe(document.body, { subtree: true, childList: true }));
  });

  // 2. First lines on screen, from navigation start (in-page clock); three loads each, the median.
  const firstLines = async (j) => {
    const samples = [];
    for (let i = 0; i < 3; i++) {
      await page.goto('about:blank');
      await page.goto(jobUrl(j));
      await page.waitForSelector('.log-line[data-seq="0"] .txt span', { timeout: 30_000 });
      samples.push(await page.evaluate(() => window.__firstLineAt));
    }
    return median(samples);
  };
  const firstFlatMs = await firstLines(flat);
  const firstGroupedMs = await firstLines(grouped);

  // 3. Fold and unfold groups in view: from the click to the changed rows on screen (in-page, two
  // frames after the DOM shows the new state), at the top and in the middle of the log. With it, the
  // page's main-thread CPU time meanwhile (Chromium's ThreadTime metric): unlike the wall clock, it
  // does not grow when other processes hold the machine's cores.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  const threadMs = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ThreadTime').value * 1000;
  const toggleTimes = async (selector, expanded) => {
    const cpu0 = await threadMs();
    const times = await toggleWall(selector, expanded);
    return { ...times, cpu: (await threadMs()) - cpu0 };
  };
  const toggleWall = (selector, expanded) => page.evaluate(async ({ selector, expanded }) => {
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    const done = () => document.querySelector(selector)?.getAttribute('aria-expanded') === String(expanded);
    // "rows in the DOM": React's commit, seen by a MutationObserver (no polling delay); "on screen": the next frame after it.
    let dom;
    const t = performance.now();
    const obs = new MutationObserver(() => { if (dom === undefined && done()) dom = performance.now() - t; });
    obs.observe(document.querySelector('.log-list'), { subtree: true, childList: true, attributes: true });
    document.querySelector(selector).click();
    while (!done()) {
      if (performance.now() - t > 5000) { obs.disconnect(); return { dom: Infinity, ms: Infinity }; }
      await frame();
    }
    obs.disconnect();
    await frame();
    return { dom: dom ?? performance.now() - t, ms: performance.now() - t };
  }, { selector, expanded });

  const groupFold = [];
  const groupUnfold = [];
  await page.goto('about:blank');
  await page.goto(jobUrl(grouped));
  await page.waitForSelector('.log-group');
  for (const where of [0.02, 0.25, 0.5, 0.75, 0.98]) {
    await page.$eval('.log-list', (el, f) => { el.scrollTop = (el.scrollHeight - el.clientHeight) * f; }, where);
    await sleep(300);
    const starts = await page.$$eval('.log-group[data-folded=true]', (els, n) => els.slice(1, 1 + n).map((e) => e.getAttribute('data-group')), TOGGLES);
    for (const s of starts) {
      const sel = `.log-group[data-group="${s}"] button`;
      groupUnfold.push(await toggleTimes(sel, true));
      await sleep(100);
      groupFold.push(await toggleTimes(sel, false));
      await sleep(100);
    }
  }

  // Folding and unfolding a whole step: the first (under the set-up lines, at the top of the log) and
  // the third (opened and brought to the top by "Jump to step"), of each log; counting the log pages
  // fetched meanwhile (the lines a fold hides must not be fetched).
  const pageFetches = [];
  page.on('request', (r) => { if (/\/api\/jobs\/[^/]+\/log\?/.test(r.url())) pageFetches.push(r.url()); });
  const stepToggles = async (j) => {
    const fold = [];
    const unfold = [];
    let fetches = 0;
    for (const section of ['step:0', 'step:2']) {
      await page.goto('about:blank');
      await page.goto(jobUrl(j));
      await page.waitForSelector('.log-line[data-seq="0"] .txt span');
      if (section !== 'step:0') await page.selectOption('select[name=jump-to-step]', section);
      const sel = `.log-step[data-section="${section}"] button`;
      await page.waitForSelector(sel);
      await sleep(300);
      pageFetches.length = 0;
      for (let i = 0; i < TOGGLES; i++) {
        fold.push(await toggleTimes(sel, false));
        await sleep(100);
        unfold.push(await toggleTimes(sel, true));
        await sleep(100);
      }
      fetches += pageFetches.length;
    }
    return { fold, unfold, fetchesPerFold: fetches / (2 * TOGGLES) };
  };
  const smallSteps = await stepToggles(small);
  const flatSteps = await stepToggles(flat);
  const groupedSteps = await stepToggles(grouped);

  const ok = (v, target) => (v ? '✓' : `✗ (target ${target})`);
  const f = (n) => n.toFixed(1);
  const stat = (xs, key) => { const v = xs.map((x) => x[key]); return { p50: median(v), p99: pct(v, 0.99), max: Math.max(...v) }; };
  // "In under 50 ms" is every fold, not a typical one: the p99 is judged (of 20 step or 50 group
  // toggles by default: the worst, or the worst but none).
  const base = (what) => `${what} a step of the ${(STEPS * SMALL_PER_STEP).toLocaleString('en')}-line log`;
  const LABELS = { dom: 'rows in the DOM', ms: 'on screen (next frame)', cpu: 'main-thread CPU' };
  const toggleRows = (what, samples, baseline) => ['dom', 'ms', 'cpu'].map((key) => {
    const g = stat(samples, key);
    const b = stat(baseline, key);
    const judged = key !== 'cpu';
    return {
      measure: `${what}, ${LABELS[key]}, p50 / p99 / max of ${samples.length} (ms)`, value: `${f(g.p50)} / ${f(g.p99)} / ${f(g.max)}`,
      baseline: `${f(b.p50)} / ${f(b.p99)} / ${f(b.max)}`, ratio: (g.p99 / b.p99).toFixed(2), target: judged ? 'p99 < 50' : '', ok: judged ? ok(g.p99 < 50, 'p99 < 50') : '',
    };
  });
  const size = `${totals.grouped.toLocaleString('en')} lines, ${groups.length.toLocaleString('en')} groups`;
  const stepLines = PER_STEP.toLocaleString('en');
  const rows = [
    { measure: `first lines on screen, ${size} (ms)`, value: f(firstGroupedMs), baseline: `${f(firstFlatMs)} (same log, no groups)`, ratio: (firstGroupedMs / firstFlatMs).toFixed(2), target: '< 1000', ok: ok(firstGroupedMs < 1000, '< 1000') },
    { measure: `  … the ${groups.length.toLocaleString('en')} groups via the API alone, p50 of 3 (ms)`, value: f(groupsApiMs), baseline: '', ratio: '', target: '', ok: '' },
    { measure: `(fold baselines: ${base('folding / unfolding')}, same clicks)`, value: '', baseline: '', ratio: '', target: '', ok: '' },
    ...toggleRows('fold a group', groupFold, smallSteps.fold),
    ...toggleRows('unfold a group', groupUnfold, smallSteps.unfold),
    ...toggleRows(`fold a step of ${stepLines} lines, no groups`, flatSteps.fold, smallSteps.fold),
    ...toggleRows(`unfold a step of ${stepLines} lines, no groups`, flatSteps.unfold, smallSteps.unfold),
    ...toggleRows(`fold a step of ${stepLines} lines in groups`, groupedSteps.fold, smallSteps.fold),
    ...toggleRows(`unfold a step of ${stepLines} lines in groups`, groupedSteps.unfold, smallSteps.unfold),
    { measure: 'log requests per step fold or unfold (no groups / groups)', value: `${f(flatSteps.fetchesPerFold)} / ${f(groupedSteps.fetchesPerFold)}`, baseline: f(smallSteps.fetchesPerFold), ratio: '', target: '≤ 1', ok: ok(Math.max(flatSteps.fetchesPerFold, groupedSteps.fetchesPerFold) <= 1, '≤ 1: only the lines in view') },
  ];
  const load = (await import('node:os')).loadavg()[0];
  console.log(`load average ${load.toFixed(1)} on ${(await import('node:os')).cpus().length} CPUs`);
  console.log(`logs: ${totals.grouped.toLocaleString()} lines with ${groups.length.toLocaleString()} groups and ${totals.flat.toLocaleString()} without, produced by real Docker jobs in ${produceS.toFixed(1)} s`);
  console.table(rows);
  await context.close();
} finally {
  await browser.close();
  await server.close();
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
}
