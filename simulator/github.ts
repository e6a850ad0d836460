/**
 * A local fake of the few GitHub REST endpoints the action's PR features use, for tests and the
 * demo (point GITHUB_API_URL at it): commit statuses and issue comments (list with pagination,
 * create, update). It checks the token, records every request and what was written, and can answer
 * like a token without a permission (403) or fail/hold requests (faults). Loopback only.
 *
 *   POST  /repos/{owner}/{repo}/statuses/{sha}
 *   GET   /repos/{owner}/{repo}/commits/{ref}/statuses     (for inspection)
 *   GET   /repos/{owner}/{repo}/issues/{number}/comments   (?per_page, ?page; Link header)
 *   POST  /repos/{owner}/{repo}/issues/{number}/comments
 *   PATCH /repos/{owner}/{repo}/issues/comments/{id}
 *   GET   /_fake/state                                      (the same as handle.state())
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitHubFakeOptions {
  port?: number;
  /** the token requests must carry (`Authorization: token …` or `Bearer …`); default FAKE_GITHUB_TOKEN */
  token?: string;
  /** permissions the token has; a missing one answers 403 like GitHub does for GITHUB_TOKEN */
  permissions?: { statuses?: boolean; pullRequests?: boolean };
  /** comments already on pull requests (e.g. other people's), by issue number */
  comments?: { issue: number; body: string; user?: string }[];
  /** the login comments are written as */
  login?: string;
}

export interface GitHubFault {
  /** which endpoint: statuses, list-comments, create-comment, update-comment */
  endpoint: Endpoint;
  /** answer with this status instead (with a GitHub-like error body) */
  status?: number;
  /** hold the request this long before answering (or before the fault status) */
  delayMs?: number;
  /** how many requests it applies to (default: all) */
  times?: number;
}

type Endpoint = 'statuses' | 'list-comments' | 'create-comment' | 'update-comment';

export interface FakeRequest {
  method: string;
  path: string;
  endpoint?: Endpoint;
  status: number;
  /** whether the request carried the expected token (the token itself is never recorded) */
  authorized: boolean;
  body?: unknown;
}

export interface FakeStatus {
  repo: string;
  sha: string;
  state: string;
  context: string;
  description?: string;
  target_url?: string;
  seq: number;
}

export interface FakeComment {
  id: number;
  repo: string;
  issue: number;
  body: string;
  user: string;
  created: number;
  updates: number;
}

export interface GitHubFakeState {
  requests: FakeRequest[];
  statuses: FakeStatus[];
  comments: FakeComment[];
}

export interface GitHubFakeHandle {
  url: string;
  port: number;
  state(): GitHubFakeState;
  addFault(f: GitHubFault): void;
  clearFaults(): void;
  /** forget requests, statuses and comments (faults too) */
  reset(): void;
  stop(): Promise<void>;
}

export const FAKE_GITHUB_TOKEN = 'ghs_fakeGitHubToken0123456789';

class Fail extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1024 * 1024) parts.push(c);
    });
    req.on('end', () => {
      if (size > 1024 * 1024) return reject(new Fail(413, 'body too large'));
      const text = Buffer.concat(parts).toString('utf8');
      if (!text) return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new Fail(400, 'Problems parsing JSON'));
      }
    });
    req.on('error', reject);
  });
}

function obj(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Fail(400, 'Problems parsing JSON');
  return v as Record<string, unknown>;
}

export async function startGitHubFake(options: GitHubFakeOptions = {}): Promise<GitHubFakeHandle> {
  const token = options.token ?? FAKE_GITHUB_TOKEN;
  const login = options.login ?? 'github-actions[bot]';
  const perms = { statuses: true, pullRequests: true, ...options.permissions };
  let faults: (GitHubFault & { left: number })[] = [];
  let state: GitHubFakeState;
  let nextId: number;
  let seq: number;
  const init = () => {
    state = { requests: [], statuses: [], comments: [] };
    nextId = 1000;
    seq = 0;
    for (const c of options.comments ?? []) {
      state.comments.push({ id: nextId++, repo: '', issue: c.issue, body: c.body, user: c.user ?? 'someone', created: seq++, updates: 0 });
    }
    faults = [];
  };
  init();
  let url = '';

  const route = (method: string, path: string): { endpoint: Endpoint | 'list-statuses' | 'state'; params: string[] } | undefined => {
    const p = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (method === 'GET' && p[0] === '_fake' && p[1] === 'state' && p.length === 2) return { endpoint: 'state', params: [] };
    if (p[0] !== 'repos' || p.length < 5) return undefined;
    const repo = `${p[1]}/${p[2]}`;
    if (method === 'POST' && p[3] === 'statuses' && p.length === 5) return { endpoint: 'statuses', params: [repo, p[4]] };
    if (method === 'GET' && p[3] === 'commits' && p[5] === 'statuses' && p.length === 6)
      return { endpoint: 'list-statuses', params: [repo, p[4]] };
    if (p[3] === 'issues' && p[5] === 'comments' && p.length === 6 && /^\d+$/.test(p[4])) {
      if (method === 'GET') return { endpoint: 'list-comments', params: [repo, p[4]] };
      if (method === 'POST') return { endpoint: 'create-comment', params: [repo, p[4]] };
    }
    if (method === 'PATCH' && p[3] === 'issues' && p[4] === 'comments' && p.length === 6 && /^\d+$/.test(p[5])) {
      return { endpoint: 'update-comment', params: [repo, p[5]] };
    }
    return undefined;
  };

  const commentJson = (c: FakeComment) => ({
    id: c.id,
    body: c.body,
    user: { login: c.user, type: c.user.endsWith('[bot]') ? 'Bot' : 'User' },
    html_url: `${url}/${c.repo}/pull/${c.issue}#issuecomment-${c.id}`,
  });

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    rec: FakeRequest,
  ): Promise<{ status: number; json?: unknown; headers?: Record<string, string> }> {
    const u = new URL(req.url ?? '/', 'http://fake');
    const r = route(rec.method, u.pathname);
    if (!r) throw new Fail(404, 'Not Found');
    if (r.endpoint === 'state') return { status: 200, json: state };
    rec.endpoint = r.endpoint === 'list-statuses' ? undefined : r.endpoint;
    const body = rec.method === 'POST' || rec.method === 'PATCH' ? await readJson(req) : undefined;
    rec.body = body;
    const fault = faults.find((f) => f.endpoint === r.endpoint && f.left > 0);
    if (fault) {
      fault.left--;
      if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs).unref());
      if (res.destroyed) throw new Fail(499, 'client went away');
      if (fault.status) throw new Fail(fault.status, fault.status >= 500 ? 'Server Error' : 'Injected fault');
    }
    if (!rec.authorized) throw new Fail(401, 'Bad credentials');
    const [repo, arg] = r.params;
    switch (r.endpoint) {
      case 'statuses': {
        if (!perms.statuses) throw new Fail(403, 'Resource not accessible by integration');
        const b = obj(body);
        if (!['pending', 'success', 'failure', 'error'].includes(String(b.state))) throw new Fail(422, 'Validation Failed: state');
        if (typeof b.description === 'string' && b.description.length > 140)
          throw new Fail(422, 'Validation Failed: description is too long');
        const st: FakeStatus = {
          repo,
          sha: arg,
          state: String(b.state),
          context: typeof b.context === 'string' ? b.context : 'default',
          description: typeof b.description === 'string' ? b.description : undefined,
          target_url: typeof b.target_url === 'string' ? b.target_url : undefined,
          seq: seq++,
        };
        state.statuses.push(st);
        return { status: 201, json: { id: st.seq, ...st } };
      }
      case 'list-statuses':
        return { status: 200, json: state.statuses.filter((s) => s.repo === repo && s.sha === arg).reverse() };
      case 'list-comments': {
        if (!perms.pullRequests) throw new Fail(403, 'Resource not accessible by integration');
        const all = state.comments.filter((c) => (c.repo === repo || c.repo === '') && c.issue === Number(arg)).sort((a, b) => a.id - b.id);
        const perPage = Math.min(100, Math.max(1, Number(u.searchParams.get('per_page') ?? 30) || 30));
        const page = Math.max(1, Number(u.searchParams.get('page') ?? 1) || 1);
        const slice = all.slice((page - 1) * perPage, page * perPage);
        const headers: Record<string, string> = {};
        if (page * perPage < all.length) {
          const next = new URL(u.pathname, url);
          next.searchParams.set('per_page', String(perPage));
          next.searchParams.set('page', String(page + 1));
          headers.link = `<${next.href}>; rel="next"`;
        }
        return { status: 200, json: slice.map(commentJson), headers };
      }
      case 'create-comment': {
        if (!perms.pullRequests) throw new Fail(403, 'Resource not accessible by integration');
        const b = obj(body);
        if (typeof b.body !== 'string' || !b.body) throw new Fail(422, 'Validation Failed: body');
        if (b.body.length > 65536) throw new Fail(422, 'Validation Failed: body is too long (maximum is 65536 characters)');
        const c: FakeComment = { id: nextId++, repo, issue: Number(arg), body: b.body, user: login, created: seq++, updates: 0 };
        state.comments.push(c);
        return { status: 201, json: commentJson(c) };
      }
      case 'update-comment': {
        if (!perms.pullRequests) throw new Fail(403, 'Resource not accessible by integration');
        const c = state.comments.find((x) => x.id === Number(arg));
        if (!c) throw new Fail(404, 'Not Found');
        if (c.user !== login) throw new Fail(403, 'Resource not accessible by integration');
        const b = obj(body);
        if (typeof b.body !== 'string' || !b.body) throw new Fail(422, 'Validation Failed: body');
        c.body = b.body;
        c.updates++;
        return { status: 200, json: commentJson(c) };
      }
    }
    throw new Fail(404, 'Not Found');
  }

  const server = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    const rec: FakeRequest = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: (req.url ?? '/').split('?')[0],
      status: 0,
      authorized: auth === `token ${token}` || auth === `Bearer ${token}`,
    };
    const isState = rec.path === '/_fake/state';
    if (!isState) state.requests.push(rec);
    handle(req, res, rec).then(
      (out) => {
        rec.status = out.status;
        const text = JSON.stringify(out.json ?? {});
        res.writeHead(out.status, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': String(Buffer.byteLength(text)),
          ...out.headers,
        });
        res.end(text);
      },
      (e: unknown) => {
        const status = e instanceof Fail ? e.status : 500;
        rec.status = status;
        if (res.destroyed) return;
        const text = JSON.stringify({
          message: e instanceof Error ? e.message : String(e),
          documentation_url: 'https://docs.github.com/rest',
        });
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
        res.end(text);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  url = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    state: () => JSON.parse(JSON.stringify(state)) as GitHubFakeState,
    addFault: (f) => faults.push({ ...f, left: f.times ?? Number.POSITIVE_INFINITY }),
    clearFaults: () => (faults = []),
    reset: init,
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
