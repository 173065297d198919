/**
 * The JSON API under /api (who may call it: docs/security.md). Success answers carry the EngineApi method's value as
 * the JSON body (no wrapper); errors answer `{ok:false, error:{name, code, message}}` with the HTTP
 * status of HTTP_STATUS_OF[code]. Request bodies are JSON, at most 1 MB; malformed JSON is a 400, and so is a
 * path whose percent-encoding does not decode (`/api/runs/%ff/artifacts`).
 *
 *   GET  /api/runs?cursor=&limit=&repo=&branch=&status=   Page<RunSummary>
 *   POST /api/runs {repo, branch?, sha?, debug?}          201 {runIds} (by `ui` with the dashboard's session secret, else by `api`)
 *   GET  /api/runs/:id                                    RunDetail (jobs, steps, edges)
 *   GET  /api/runs/:id/reporting                          RunReporting (commit statuses posted to the forge)
 *   POST /api/runs/:id/cancel                             {ok:true}
 *   POST /api/runs/:id/rerun {failedOnly?, debug?}        201 {runId} (a manual run's re-run: by `ui` or `api`, as above)
 *   GET  /api/runs/:id/tests?q=                           RunTestReport (totals, failures, slowest, flaky; q: matching cases)
 *   GET  /api/runs/:id/timing                             RunTiming (the jobs' phases on one time axis)
 *   GET  /api/runs/:id/artifacts                          ArtifactInfo[]
 *   GET  /api/debug/jobs                                  KeptJobInfo[] (failed jobs kept for debugging)
 *   POST /api/jobs/:id/debug/extend {minutes?: 1–1440}    KeptJobInfo (+ capped, message when the one-day cap cut it short)
 *   POST /api/jobs/:id/debug/end                          {ok:true}
 *   POST /api/jobs/:id/debug/rerun-step                   {exitCode}
 *   GET  /api/jobs/:id/terminal                           WebSocket: a shell in the kept job (terminal-ws.ts); 426 without Upgrade
 *   GET  /api/artifacts/:id/download                      the file (type by extension, as an attachment)
 *   POST /api/jobs/:id/approve {by?} | /api/jobs/:id/reject {by?}   {ok:true}; 409 when the job does not wait for approval
 *   GET  /api/schedules                                   ScheduleInfo[] (on.schedule of each repository, next times)
 *   GET  /api/jobs/:id/log?offset=&limit=                 LogChunk
 *   GET  /api/jobs/:id/log/stream                         SSE (see sse.ts)
 *   GET  /api/jobs/:id/log/search?q=&limit=               LogMatch[]
 *   GET  /api/jobs/:id/log/raw                            the whole log as text/plain
 *   GET  /api/jobs/:id/log/groups?from=                   LogGroup[] (foldable sections, in seq order)
 *   GET  /api/runs/:id/records                            RunRecords (annotations, job summaries)
 *   GET  /api/metrics/storage | /api/health | /api/deliveries?limit= | /api/repositories
 *   POST /api/storage/free {artifacts?, caches?, logsOlderThanDays?}   FreeSpaceReport (works on a full disk)
 *   GET  /api/events                                      SSE of run/job/tunnel/delivery events
 *   POST /api/auth/tickets {path}                         201 {ticket, expiresAt}: a one-time ticket for a
 *                                                         stream, download or terminal path (api-tickets.ts)
 *   GET  /api/settings                                    SettingsView (names and counts, never secret values)
 *   PUT  /api/settings/server {tunnelUrl?, concurrency?, retention?}            SettingsView
 *   PUT  /api/repositories/:owner/:name {url?, defaultBranch?, addWebhookSecrets?, removeWebhookSecrets?, secrets?}
 *                                                         RepositorySettings (created or updated)
 *   DELETE /api/repositories/:owner/:name                 {ok:true}
 *   POST /api/repositories/:owner/:name/connect {url?, token?, apiUrl?}   ConnectReport (tunnel channel, secret, webhook, ping)
 *   POST /api/engines {name, address, limit?, labels?, hostKey?, tls?: {ca?, cert?, key?}, sshKey?}   201 EngineSettings (added; + reachable, warning?, replaces?)
 *   PUT  /api/engines/:name {the same fields, each optional; null removes; a new name renames}        EngineSettings (updated); 409 on a taken name
 *   DELETE /api/engines/:name                             {ok:true}
 */
import express from 'express';
import type { Request, Router } from 'express';
import { basename } from 'node:path';
import { pipeline } from 'node:stream';
import { ApiError } from '../../shared/api/engine-api.js';
import type { RunQuery, TriggerRequest } from '../../shared/api/engine-api.js';
import type { EngineInput } from '../../shared/api/settings-types.js';
import type { ArtifactInfo } from '../../shared/model/run.js';
import { STATUSES, type Status } from '../../shared/model/status.js';
import type { KilnEngine } from '../core/engine-contract.js';
import { contentTypeFor } from '../storage/artifact-store.js';
import { apiErrorHandler, JSON_BODY_LIMIT } from './api-errors.js';
import { apiTickets, isTicketedPath, requestAuthorized, UNAUTHORIZED_MESSAGE, type ApiTickets } from './api-tickets.js';
import { fromDashboard } from './local-guard.js';
import { logStartOffset, openSse, streamEngineEvents, streamJobLog } from './sse.js';
import type { SseConnection } from './sse.js';

/** What the artifact store offers the download route (src-main/storage's ArtifactStore satisfies it). */
export interface ArtifactSource {
  open(id: string): Promise<{ info: ArtifactInfo; stream: NodeJS.ReadableStream } | undefined>;
}

export interface ApiRoutesOptions {
  engine: KilnEngine;
  artifacts?: ArtifactSource;
  /** When set, every /api request must present a token for which this (constant-time) check is true. */
  tokenMatches?: (given: string) => boolean;
  /** One-time tickets for the routes a browser opens without headers (api-tickets.ts); one store per server. */
  tickets?: ApiTickets;
  /** Collects live SSE streams so that server shutdown can end them. */
  streams?: Set<SseConnection>;
  /** The dashboard page's session secret: a run started with it is recorded as by `ui`, any other as by `api`. */
  sessionSecret?: string;
}

export { apiErrorHandler } from './api-errors.js';

export function apiRoutes(options: ApiRoutesOptions): Router {
  const { engine } = options;
  const tickets = options.tickets ?? apiTickets();
  const router = express.Router();

  if (options.tokenMatches) {
    const matches = options.tokenMatches;
    router.use((req, _res, next) => {
      if (!requestAuthorized({ url: req.originalUrl, method: req.method, authorization: req.get('authorization') }, matches, tickets)) {
        next(new ApiError('UNAUTHORIZED', UNAUTHORIZED_MESSAGE));
        return;
      }
      next();
    });
  }
  router.use(express.json({ limit: JSON_BODY_LIMIT, type: ['application/json', 'application/*+json'] }));

  router.post('/auth/tickets', (req, res) => {
    const path = objectBody(req).path;
    if (typeof path !== 'string' || !isTicketedPath(path)) {
      throw new ApiError('BAD_REQUEST', 'body.path must be the path of an event stream, a log stream or raw log, an artifact download or a terminal (/api/events, /api/jobs/ID/log/stream, /api/jobs/ID/log/raw, /api/artifacts/ID/download, /api/jobs/ID/terminal)');
    }
    res.status(201).json(tickets.mint(path));
  });

  router.get('/runs', async (req, res) => {
    const q = req.query;
    const query: RunQuery = {};
    if (q.cursor !== undefined) query.cursor = stringParam(q.cursor, 'cursor');
    if (q.limit !== undefined) query.limit = intParam(q.limit, 'limit', 1, 200);
    if (q.repo !== undefined) query.repo = stringParam(q.repo, 'repo');
    if (q.branch !== undefined) query.branch = stringParam(q.branch, 'branch');
    if (q.status !== undefined) {
      const s = stringParam(q.status, 'status');
      if (!STATUSES.includes(s as Status)) throw new ApiError('BAD_REQUEST', `status must be one of ${STATUSES.join(', ')}; got '${s}'`);
      query.status = s as Status;
    }
    res.json(await engine.listRuns(query));
  });

  router.post('/runs', async (req, res) => {
    const body = objectBody(req);
    const repo = body.repo;
    if (typeof repo !== 'string' || repo.trim() === '') throw new ApiError('BAD_REQUEST', 'body.repo must be a repository name (owner/name)');
    const dashboard = options.sessionSecret !== undefined && fromDashboard(req, options.sessionSecret);
    const request: TriggerRequest = { repo, via: dashboard ? 'ui' : 'api' };
    if (body.debug !== undefined && typeof body.debug !== 'boolean') throw new ApiError('BAD_REQUEST', 'body.debug must be true or false');
    if (body.debug === true) request.debug = true;
    for (const key of ['branch', 'sha'] as const) {
      const v = body[key];
      if (v === undefined || v === null || v === '') continue;
      if (typeof v !== 'string') throw new ApiError('BAD_REQUEST', `body.${key} must be a string`);
      request[key] = v;
    }
    if (request.sha !== undefined && !/^[0-9a-fA-F]{4,64}$/.test(request.sha)) throw new ApiError('BAD_REQUEST', `body.sha must be a hexadecimal commit SHA; got '${request.sha}'`);
    res.status(201).json(await engine.triggerRun(request));
  });

  router.get('/runs/:id', async (req, res) => {
    res.json(await engine.getRun(param(req, 'id')));
  });

  router.get('/runs/:id/reporting', async (req, res) => {
    if (!engine.getRunReporting) throw new ApiError('UNAVAILABLE', 'this engine does not report to a forge');
    res.json(await engine.getRunReporting(param(req, 'id')));
  });

  router.post('/runs/:id/cancel', async (req, res) => {
    await engine.cancelRun(param(req, 'id'));
    res.json({ ok: true });
  });

  for (const verb of ['approve', 'reject'] as const) {
    router.post(`/jobs/:id/${verb}`, async (req, res) => {
      const body = req.body === undefined ? {} : objectBody(req);
      if (body.by !== undefined && (typeof body.by !== 'string' || body.by.length > 100)) throw new ApiError('BAD_REQUEST', 'body.by must be a name of at most 100 characters');
      const options = typeof body.by === 'string' && body.by.trim() ? { by: body.by.trim() } : {};
      await (verb === 'approve' ? engine.approveJob(param(req, 'id'), options) : engine.rejectJob(param(req, 'id'), options));
      res.json({ ok: true });
    });
  }

  router.get('/schedules', async (_req, res) => {
    res.json(await engine.listSchedules());
  });

  router.post('/runs/:id/rerun', async (req, res) => {
    const body = req.body === undefined ? {} : objectBody(req);
    const failedOnly = body.failedOnly ?? false;
    if (typeof failedOnly !== 'boolean') throw new ApiError('BAD_REQUEST', 'body.failedOnly must be true or false');
    const debug = body.debug ?? false;
    if (typeof debug !== 'boolean') throw new ApiError('BAD_REQUEST', 'body.debug must be true or false');
    const via = options.sessionSecret !== undefined && fromDashboard(req, options.sessionSecret) ? 'ui' : 'api';
    res.status(201).json(await engine.rerun(param(req, 'id'), debug ? { failedOnly, debug, via } : { failedOnly, via }));
  });

  router.get('/debug/jobs', async (_req, res) => {
    res.json(await engine.listKeptJobs());
  });

  router.post('/jobs/:id/debug/extend', async (req, res) => {
    const body = req.body === undefined ? {} : objectBody(req);
    const minutes = body.minutes;
    if (minutes !== undefined && (typeof minutes !== 'number' || !Number.isFinite(minutes) || minutes < 1 || minutes > 24 * 60)) {
      throw new ApiError('BAD_REQUEST', `body.minutes must be a number of minutes from 1 to 1440; got ${JSON.stringify(minutes)}`);
    }
    res.json(await engine.extendDebug(param(req, 'id'), minutes));
  });

  router.post('/jobs/:id/debug/end', async (req, res) => {
    // Who asked goes into the job's log: the dashboard says so; anything else is a script (the API).
    const body = req.body === undefined ? {} : objectBody(req);
    await engine.endDebug(param(req, 'id'), body.by === 'dashboard' ? 'dashboard' : 'api');
    res.json({ ok: true });
  });

  router.post('/jobs/:id/debug/rerun-step', async (req, res) => {
    res.json(await engine.rerunFailedStep(param(req, 'id')));
  });

  // The terminal is a WebSocket (terminal-ws.ts answers the upgrade); a plain GET is told so.
  router.get('/jobs/:id/terminal', (_req, res) => {
    res.status(426).set('Upgrade', 'websocket').set('Connection', 'Upgrade').json({
      ok: false, error: { name: 'ApiError', code: 'BAD_REQUEST', message: 'the terminal is a WebSocket: connect with an Upgrade: websocket request (see docs/debug.md)' },
    });
  });

  router.get('/runs/:id/tests', async (req, res) => {
    const q = req.query.q === undefined ? undefined : stringParam(req.query.q, 'q');
    res.json(await engine.getTestReport(param(req, 'id'), q));
  });

  router.get('/runs/:id/timing', async (req, res) => {
    res.json(await engine.getRunTiming(param(req, 'id')));
  });

  router.get('/runs/:id/artifacts', async (req, res) => {
    res.json(await engine.listArtifacts(param(req, 'id')));
  });

  router.get('/artifacts/:id/download', async (req, res) => {
    if (!options.artifacts) throw new ApiError('UNAVAILABLE', 'artifact downloads are not available on this server');
    const opened = await options.artifacts.open(param(req, 'id'));
    if (!opened) throw new ApiError('NOT_FOUND', `artifact ${param(req, 'id')} does not exist (or has expired)`);
    const name = basename(opened.info.path) || 'artifact';
    // The type by extension, but always as an attachment with nosniff and a sandboxing CSP, so an
    // HTML or SVG artifact built from a pull request can never run script in the dashboard's origin.
    res.setHeader('Content-Type', contentTypeFor(opened.info.path));
    res.setHeader('Content-Length', String(opened.info.size));
    res.setHeader('Content-Disposition', contentDisposition(name));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    // pipeline, not pipe: when the client goes away mid-download, the file stream is destroyed and
    // its FileHandle closed now, not left to garbage collection (Node's "Closing file descriptor" warning).
    pipeline(opened.stream, res, () => undefined);
  });

  router.get('/jobs/:id/log', async (req, res) => {
    const offset = req.query.offset === undefined ? 0 : intParam(req.query.offset, 'offset', 0, Number.MAX_SAFE_INTEGER);
    const limit = req.query.limit === undefined ? undefined : intParam(req.query.limit, 'limit', 1, 10_000);
    res.json(await engine.getLog(param(req, 'id'), offset, limit));
  });

  router.get('/jobs/:id/log/stream', async (req, res) => {
    const jobId = param(req, 'id');
    // Fails with NOT_FOUND as a normal JSON error before the event stream starts.
    await engine.getLog(jobId, 0, 1);
    // A bad ?offset= is refused as on /log, not read as 0 (the whole log again, without a word).
    if (req.query.offset !== undefined) intParam(req.query.offset, 'offset', 0, Number.MAX_SAFE_INTEGER);
    const start = logStartOffset(req.get('last-event-id'), req.query.offset);
    await streamJobLog(engine, jobId, start, openSse(req, res, options.streams));
  });

  router.get('/jobs/:id/log/search', async (req, res) => {
    const q = req.query.q;
    if (typeof q !== 'string' || q === '') throw new ApiError('BAD_REQUEST', 'query parameter q (the text to search for) is required');
    const limit = req.query.limit === undefined ? undefined : intParam(req.query.limit, 'limit', 1, 10_000);
    res.json(await engine.searchLog(param(req, 'id'), q, limit));
  });

  router.get('/jobs/:id/log/groups', async (req, res) => {
    const from = req.query.from === undefined ? undefined : intParam(req.query.from, 'from', 0, Number.MAX_SAFE_INTEGER);
    res.json(await engine.getLogGroups(param(req, 'id'), from));
  });

  router.get('/runs/:id/records', async (req, res) => {
    res.json(await engine.getRunRecords(param(req, 'id')));
  });

  router.get('/jobs/:id/log/raw', async (req, res) => {
    const jobId = param(req, 'id');
    let chunk = await engine.getLog(jobId, 0, 5000);
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Disposition', contentDisposition(`${jobId}.log`));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    for (;;) {
      if (chunk.lines.length > 0) res.write(chunk.lines.map((l) => `${l.text}\n`).join(''));
      if (chunk.complete || chunk.lines.length === 0) break;
      chunk = await engine.getLog(jobId, chunk.nextOffset, 5000);
    }
    res.end();
  });

  router.get('/metrics/storage', async (_req, res) => { res.json(await engine.storageMetrics()); });
  router.get('/health', async (_req, res) => { res.json(await engine.health()); });
  router.post('/storage/free', async (req, res) => {
    const body = objectBody(req);
    const flag = (name: 'artifacts' | 'caches'): boolean | undefined => {
      if (body[name] === undefined || typeof body[name] === 'boolean') return body[name] as boolean | undefined;
      throw new ApiError('BAD_REQUEST', `body.${name} must be true or false`);
    };
    const days = body.logsOlderThanDays;
    if (days !== undefined && (typeof days !== 'number' || !Number.isFinite(days) || days < 0)) {
      throw new ApiError('BAD_REQUEST', 'body.logsOlderThanDays must be a number of days, 0 or more');
    }
    res.json(await engine.freeSpace({ artifacts: flag('artifacts'), caches: flag('caches'), logsOlderThanDays: days as number | undefined }));
  });
  router.get('/repositories', async (_req, res) => { res.json(await engine.listRepositories()); });
  router.get('/deliveries', async (req, res) => {
    const limit = req.query.limit === undefined ? undefined : intParam(req.query.limit, 'limit', 1, 1000);
    res.json(await engine.listDeliveries(limit));
  });
  router.get('/settings', async (_req, res) => { res.json(await engine.getSettings()); });
  router.put('/settings/server', async (req, res) => {
    res.json(await engine.saveServerSettings(objectBody(req)));
  });
  router.post('/repositories/:owner/:name/connect', async (req, res) => {
    if (!engine.connectRepository) throw new ApiError('UNAVAILABLE', 'this engine cannot connect repositories');
    const body = objectBody(req);
    res.json(await engine.connectRepository({ ...body, name: `${param(req, 'owner')}/${param(req, 'name')}` }));
  });
  router.put('/repositories/:owner/:name', async (req, res) => {
    const name = `${param(req, 'owner')}/${param(req, 'name')}`;
    const body = objectBody(req);
    if (body.name !== undefined && body.name !== name) throw new ApiError('BAD_REQUEST', `body.name '${String(body.name)}' differs from the repository in the path (${name}); a repository cannot be renamed, add the new name and remove the old one`);
    res.json(await engine.saveRepository({ ...body, name }));
  });
  router.delete('/repositories/:owner/:name', async (req, res) => {
    await engine.removeRepository(`${param(req, 'owner')}/${param(req, 'name')}`);
    res.json({ ok: true });
  });
  router.post('/engines', async (req, res) => {
    // Created: 201, as for a new run; the body says whether the engine answered just now (`warning`).
    res.status(201).json(await engine.saveEngine({ ...objectBody(req), create: true } as EngineInput));
  });
  router.put('/engines/:name', async (req, res) => {
    const name = param(req, 'name');
    const body = objectBody(req);
    // A body.name other than the path's renames the engine (409 when another engine has it).
    const { name: rename, ...fields } = body;
    res.json(await engine.saveEngine({ ...fields, name, create: false, ...(rename !== undefined && rename !== name ? { rename: rename as string } : {}) }));
  });
  router.delete('/engines/:name', async (req, res) => {
    await engine.removeEngine(param(req, 'name'));
    res.json({ ok: true });
  });
  router.get('/events', (req, res) => {
    streamEngineEvents(engine, openSse(req, res, options.streams));
  });

  router.use((req, _res, next) => next(new ApiError('NOT_FOUND', `no API route ${req.method} ${req.baseUrl}${req.path}`)));
  router.use(apiErrorHandler);
  return router;
}

function objectBody(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (body === undefined) throw new ApiError('BAD_REQUEST', 'a JSON body (Content-Type: application/json) is required');
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError('BAD_REQUEST', 'the JSON body must be an object');
  return body as Record<string, unknown>;
}

function param(req: Request, name: string): string {
  const v = req.params[name];
  if (typeof v !== 'string' || v === '') throw new ApiError('BAD_REQUEST', `missing :${name}`);
  return v;
}

function stringParam(v: unknown, name: string): string {
  if (typeof v !== 'string') throw new ApiError('BAD_REQUEST', `query parameter ${name} must be given once`);
  return v;
}

function intParam(v: unknown, name: string, min: number, max: number): number {
  const s = stringParam(v, name);
  if (!/^\d+$/.test(s)) throw new ApiError('BAD_REQUEST', `query parameter ${name} must be a whole number; got '${s}'`);
  const n = Number(s);
  if (n < min || n > max) throw new ApiError('BAD_REQUEST', `query parameter ${name} must be between ${min} and ${max}; got ${n}`);
  return n;
}

function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
