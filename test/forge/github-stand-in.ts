/**
 * A local stand-in for GitHub's REST API (and Gitea's, which shares the statuses endpoint): a real
 * HTTP server on 127.0.0.1 that checks EVERY request against GitHub's own OpenAPI description of the
 * operation (../shared/fixtures/github-api/rest-operations.json: path parameters, required body
 * fields, types, enums, unknown fields) plus the limits GitHub documents outside it (a status
 * description is at most 140 characters). A request GitHub would refuse is answered 422 and kept in
 * `violations`, which a test asserts is empty — so such a request fails the test.
 *
 * Answers reuse the recorded real response bodies of create-status.recorded.json. Faults can be
 * queued for the next requests: 500, 429 with Retry-After, 403 secondary rate limit, 401, a slow
 * answer, a dropped connection.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Ajv, type ValidateFunction } from 'ajv';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fixturePath } from '../helpers/fixtures.js';

const readFixtureJson = <T>(name: string): T => JSON.parse(readFileSync(fixturePath(name), 'utf8')) as T;

interface Operation {
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: object }>;
  requestBody?: { required?: boolean; content: Record<string, { schema: object }> };
}

const SPEC = readFixtureJson<{ operations: Record<string, Operation> }>('github-api/rest-operations.json');
const RECORDED = readFixtureJson<Array<{ method: string; path: string; status: number; response: Record<string, unknown> }>>('github-api/create-status.recorded.json');
export const SPEC_FILE = fixturePath('github-api/rest-operations.json');

/** Limits GitHub enforces and documents, but the OpenAPI description does not carry. */
const DOCUMENTED_LIMITS: Record<string, Record<string, number>> = {
  'POST /repos/{owner}/{repo}/statuses/{sha}': { description: 140 },
};

const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });

interface CompiledOp {
  key: string;
  method: string;
  regex: RegExp;
  names: string[];
  body?: ValidateFunction;
  bodyRequired: boolean;
  query: Map<string, ValidateFunction>;
}

function compile(): CompiledOp[] {
  return Object.entries(SPEC.operations).map(([key, op]) => {
    const [method, template] = key.split(' ');
    const names: string[] = [];
    const multi = new Set((op.parameters ?? []).filter((p) => (p as { 'x-multi-segment'?: boolean })['x-multi-segment']).map((p) => p.name));
    const regex = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, name: string) => {
      names.push(name);
      return multi.has(name) ? '(.+?)' : '([^/]+)';
    })}$`);
    const schema = op.requestBody?.content['application/json']?.schema;
    const query = new Map<string, ValidateFunction>();
    for (const p of op.parameters ?? []) if (p.in === 'query' && p.schema) query.set(p.name, ajv.compile(p.schema));
    return { key, method, regex, names, body: schema ? ajv.compile(schema) : undefined, bodyRequired: op.requestBody?.required === true, query };
  });
}
const OPERATIONS = compile();

export type Fault =
  | { kind: 'status'; status: 500 | 502 | 401 | 403 | 404 }
  | { kind: 'rate-limit'; retryAfterS: number }
  | { kind: 'secondary-rate-limit'; retryAfterS: number }
  | { kind: 'slow'; ms: number }
  | { kind: 'drop' };

export interface SeenRequest {
  op: string;
  method: string;
  path: string;
  params: Record<string, string>;
  body: unknown;
  at: number;
  authorization?: string;
}

export interface PostedStatus {
  sha: string;
  owner: string;
  repo: string;
  state: string;
  description?: string;
  context: string;
  target_url?: string;
  at: number;
}

export interface PostedComment {
  id: number;
  owner: string;
  repo: string;
  issueNumber: number;
  body: string;
  updates: number;
}

export interface StandInHook {
  id: number;
  owner: string;
  repo: string;
  url: string;
  secret?: string;
  contentType?: string;
  events: string[];
  pings: number;
}

export interface StandIn {
  url: string;
  /** Requests GitHub would refuse: must stay empty. */
  violations: string[];
  requests: SeenRequest[];
  statuses: PostedStatus[];
  /** Comments by id, as they stand now. */
  comments: Map<number, PostedComment>;
  /** Webhooks by id; a ping POSTs GitHub's ping payload, signed with the hook's secret, to its URL. */
  hooks: Map<number, StandInHook>;
  /** Faults applied, in order, to the next requests. */
  faults: Fault[];
  /** The open pull requests `GET /repos/{owner}/{repo}/pulls` lists, per "owner/repo". */
  pulls: Map<string, Array<{ number: number; base: string; head: string }>>;
  close(): Promise<void>;
}

export interface StandInOptions {
  /** The API's path prefix: '' (api.github.com), '/api/v3' (GHES), '/api/v1' (Gitea, Forgejo). */
  prefix?: string;
  /** 'gitea' answers a status with `status` instead of `state`, as Gitea and Forgejo do. */
  flavour?: 'github' | 'gitea';
  /** The token that authenticates; others get 401. */
  token: string;
}

const recordedStatus = RECORDED.find((r) => r.method === 'post' && r.status === 201)!.response;

export async function startStandIn(o: StandInOptions): Promise<StandIn> {
  const prefix = o.prefix ?? '';
  const violations: string[] = [];
  const requests: SeenRequest[] = [];
  const statuses: PostedStatus[] = [];
  const faults: Fault[] = [];
  const comments = new Map<number, PostedComment>();
  const hooks = new Map<number, StandInHook>();
  const pulls = new Map<string, Array<{ number: number; base: string; head: string }>>();
  const sockets = new Set<Socket>();
  let nextId = 1000;

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const method = req.method ?? 'GET';
    if (!url.pathname.startsWith(prefix)) {
      violations.push(`${method} ${url.pathname}: outside the API prefix ${prefix}`);
      return json(res, 404, { message: 'Not Found' });
    }
    const path = url.pathname.slice(prefix.length) || '/';
    const op = OPERATIONS.find((c) => c.method === method && c.regex.test(path));
    if (!op) {
      violations.push(`${method} ${path}: not an operation Kiln may call (not in rest-operations.json)`);
      return json(res, 404, { message: 'Not Found' });
    }
    const m = op.regex.exec(path)!;
    const params = Object.fromEntries(op.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
    const problems: string[] = [];
    for (const [n, v] of Object.entries(params)) if (!v) problems.push(`path parameter ${n} is empty`);
    for (const [name, value] of url.searchParams) {
      const check = op.query.get(name);
      if (!check) problems.push(`unknown query parameter ${name}`);
      else if (!check(/^\d+$/.test(value) ? Number(value) : value)) problems.push(`query ${name}=${value}: ${ajv.errorsText(check.errors)}`);
    }
    let body: unknown;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        problems.push('the body is not JSON');
      }
      if (!/^application\/json/.test(req.headers['content-type'] ?? '')) problems.push(`content-type ${req.headers['content-type']} is not application/json`);
    }
    if (op.bodyRequired && body === undefined) problems.push('the request body is required');
    if (body !== undefined && op.body && !op.body(body)) problems.push(`body: ${ajv.errorsText(op.body.errors)}`);
    for (const [field, max] of Object.entries(DOCUMENTED_LIMITS[op.key] ?? {})) {
      const v = (body as Record<string, unknown> | undefined)?.[field];
      if (typeof v === 'string' && [...v].length > max) problems.push(`${field} is ${[...v].length} characters; GitHub allows ${max}`);
    }
    if (op.key === 'POST /repos/{owner}/{repo}/statuses/{sha}' && !/^[0-9a-f]{40}$/.test(params.sha)) problems.push(`sha '${params.sha}' is not a full commit SHA`);
    requests.push({ op: op.key, method, path, params, body, at: Date.now(), authorization: req.headers.authorization });
    if (problems.length) {
      violations.push(`${method} ${path}: ${problems.join('; ')}`);
      return json(res, 422, { message: 'Validation Failed', errors: problems });
    }

    const fault = faults.shift();
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.ms));
    if (fault?.kind === 'status') return json(res, fault.status, { message: fault.status === 401 ? 'Bad credentials' : fault.status === 403 ? 'Resource not accessible by personal access token' : 'Server Error' });
    if (fault?.kind === 'rate-limit') return json(res, 429, { message: 'Too many requests' }, { 'retry-after': String(fault.retryAfterS) });
    if (fault?.kind === 'secondary-rate-limit') {
      return json(res, 403, { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' }, { 'retry-after': String(fault.retryAfterS) });
    }
    const auth = req.headers.authorization ?? '';
    if (auth !== `token ${o.token}` && auth !== `Bearer ${o.token}`) return json(res, 401, { message: 'Bad credentials' });

    if (op.key === 'POST /repos/{owner}/{repo}/statuses/{sha}') {
      const b = body as { state: string; description?: string; context?: string; target_url?: string };
      statuses.push({ sha: params.sha, owner: params.owner, repo: params.repo, state: b.state, description: b.description, context: b.context ?? 'default', target_url: b.target_url, at: Date.now() });
      const answer: Record<string, unknown> = {
        ...recordedStatus, id: nextId++, description: b.description ?? null, target_url: b.target_url ?? null, context: b.context ?? 'default',
        url: `${prefix}/repos/${params.owner}/${params.repo}/statuses/${params.sha}`,
      };
      if (o.flavour === 'gitea') {
        delete answer.state;
        answer.status = b.state;
      } else answer.state = b.state;
      return json(res, 201, answer);
    }
    if (op.key === 'GET /repos/{owner}/{repo}/hooks') {
      const list = [...hooks.values()].filter((h) => h.owner === params.owner && h.repo === params.repo);
      return json(res, 200, list.map((h) => ({ type: 'Repository', id: h.id, name: 'web', active: true, events: h.events, config: { url: h.url, content_type: h.contentType ?? 'form', insecure_ssl: '0' } })));
    }
    if (op.key === 'POST /repos/{owner}/{repo}/hooks' || op.key === 'PATCH /repos/{owner}/{repo}/hooks/{hook_id}') {
      const b = body as { config?: { url?: string; secret?: string; content_type?: string }; events?: string[] };
      const existing = op.key.startsWith('PATCH') ? hooks.get(Number(params.hook_id)) : undefined;
      if (op.key.startsWith('PATCH') && !existing) return json(res, 404, { message: 'Not Found' });
      const url = b.config?.url ?? existing?.url;
      try {
        if (!url) throw new Error('no url');
        new URL(url);
      } catch {
        violations.push(`${method} ${path}: config.url ${JSON.stringify(url)} is not a URI`);
        return json(res, 422, { message: 'Validation Failed' });
      }
      const hook: StandInHook = existing ?? { id: nextId++, owner: params.owner, repo: params.repo, url, events: ['push'], pings: 0 };
      Object.assign(hook, { url, secret: b.config?.secret ?? hook.secret, contentType: b.config?.content_type ?? hook.contentType, events: b.events ?? hook.events });
      hooks.set(hook.id, hook);
      return json(res, existing ? 200 : 201, { type: 'Repository', id: hook.id, name: 'web', active: true, events: hook.events, config: { url: hook.url, content_type: hook.contentType, insecure_ssl: '0' } });
    }
    if (op.key === 'POST /repos/{owner}/{repo}/hooks/{hook_id}/pings') {
      const hook = hooks.get(Number(params.hook_id));
      if (!hook) return json(res, 404, { message: 'Not Found' });
      hook.pings++;
      const ping = JSON.parse(readFileSync(fixturePath('github/ping.json'), 'utf8')) as { hook_id: number; repository: { full_name: string } };
      ping.hook_id = hook.id;
      ping.repository.full_name = `${hook.owner}/${hook.repo}`;
      const payload = JSON.stringify(ping);
      const signature = hook.secret ? `sha256=${createHmac('sha256', hook.secret).update(payload).digest('hex')}` : undefined;
      void fetch(hook.url, {
        method: 'POST', body: payload,
        headers: { 'content-type': 'application/json', 'x-github-event': 'ping', 'x-github-delivery': randomUUID(), ...(signature ? { 'x-hub-signature-256': signature } : {}) },
      }).catch(() => undefined);
      res.writeHead(204);
      res.end();
      return;
    }
    if (op.key === 'GET /repos/{owner}/{repo}/pulls') {
      const open = url.searchParams.get('state') === 'closed' ? [] : pulls.get(`${params.owner}/${params.repo}`) ?? [];
      // The fields of GitHub's pull-request simple schema a client reads: number, state, base and head with ref and sha.
      return json(res, 200, open.map((p) => ({
        id: p.number * 1000, number: p.number, state: 'open', title: `#${p.number}`, user: recordedStatus.creator,
        base: { ref: p.base, sha: 'a'.repeat(40), label: `${params.owner}:${p.base}` }, head: { ref: p.head, sha: 'b'.repeat(40), label: `${params.owner}:${p.head}` },
      })));
    }
    if (op.key === 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments') {
      if (!/^\d+$/.test(params.issue_number)) return json(res, 404, { message: 'Not Found' });
      const c: PostedComment = { id: nextId++, owner: params.owner, repo: params.repo, issueNumber: Number(params.issue_number), body: (body as { body: string }).body, updates: 0 };
      comments.set(c.id, c);
      return json(res, 201, { id: c.id, node_id: 'IC_x', body: c.body, user: recordedStatus.creator, created_at: new Date().toISOString(), updated_at: new Date().toISOString() });
    }
    if (op.key === 'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}') {
      const c = comments.get(Number(params.comment_id));
      if (!c) return json(res, 404, { message: 'Not Found' });
      c.body = (body as { body: string }).body;
      c.updates++;
      return json(res, 200, { id: c.id, body: c.body, user: recordedStatus.creator });
    }
    return json(res, 404, { message: 'Not Found' });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      violations.push(`stand-in failed: ${String(err)}`);
      if (!res.headersSent) json(res, 500, { message: 'stand-in failed' });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${prefix}`, violations, requests, statuses, faults, comments, hooks, pulls,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
