/**
 * The HTTP server: one port, three roles plus the `/_sim` control plane. Every request goes
 * through: request log → HTTP-level faults → role handler → reply; any exception becomes a
 * JSON error and the server stays up.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { handleLifecycle } from './lifecycle.js';
import { errorReply, json, parseJsonBody, readBody, readBodyToFile, sendReply, type Ctx, type Reply } from './http.js';
import { handlePlatform } from './platform.js';
import { handleProxy, sandboxIdOf } from './proxy.js';
import type { FaultRuleInput, FaultRuleState, RequestLogEntry, StatusFault } from './types.js';
import { HttpError, nowIso } from './util.js';
import type { World } from './world.js';

const SECRET_HEADER = /authorization|token|secret|password|cookie|api-key|apikey/i;

export function redactHeaders(h: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    const s = Array.isArray(v) ? v.join(', ') : v;
    if (SECRET_HEADER.test(k)) {
      const scheme = /^(\w+)\s+/.exec(s);
      out[k] = scheme ? `${scheme[1]} [REDACTED]` : '[REDACTED]';
    } else out[k] = s;
  }
  return out;
}

function roleOf(seg: string[]): RequestLogEntry['role'] {
  if (seg[0] === 'platform') return 'platform';
  if ((seg[0] === 'v1' && seg[1] === 'namespaces') || seg[0] === 'sandboxes') return 'lifecycle';
  if (seg[0] === 'api') return 'proxy';
  return 'unknown';
}

async function route(ctx: Ctx): Promise<Reply> {
  const s = ctx.segments;
  if (s[0] === 'platform' && s[1] === 'v1') return handlePlatform(ctx);
  if (s[0] === 'v1' && s[1] === 'namespaces' && s[3] === 'sandboxes' && s[2]) return handleLifecycle(ctx, s[2], s.slice(4));
  if (s[0] === 'sandboxes') return handleLifecycle(ctx, 'default', s.slice(1));
  if (s[0] === 'api' && s[1] === 'v1') return handleProxy(ctx);
  throw new HttpError(404, `no route for ${ctx.method} ${ctx.rawPath}`, 'NOT_FOUND');
}

/** add fault rules; terminateSandbox rules naming an existing sandbox apply at once */
export function addFaults(world: World, rules: FaultRuleInput | FaultRuleInput[] | unknown): FaultRuleState[] {
  const added = world.faults.add(rules);
  for (const r of added) {
    if (r.kind !== 'terminateSandbox' || r.afterBuilderLines !== undefined || r.sandboxId === undefined) continue;
    const sb = world.sandboxes.get(r.sandboxId);
    if (!sb) continue;
    if (world.faults.take('terminateSandbox', (f) => f.id === r.id))
      sb.terminate(r.reason ?? 'terminated by the platform (injected fault)');
  }
  return added.map((a) => world.faults.list().find((f) => f.id === a.id) ?? a);
}

async function control(world: World, ctx: Ctx): Promise<Reply> {
  const s = ctx.segments.slice(1);
  const m = ctx.method;
  if (s[0] === 'state' && s.length === 1 && m === 'GET') return json(200, world.state());
  if (s[0] === 'health' && s.length === 1) return json(200, { ok: true });
  if (s[0] === 'reset' && s.length === 1 && m === 'POST') {
    world.reset();
    return json(200, { ok: true });
  }
  if (s[0] === 'faults' && s.length === 1) {
    if (m === 'GET') return json(200, { faults: world.faults.list() });
    if (m === 'POST') return json(201, { added: addFaults(world, await ctx.json()) });
    if (m === 'DELETE') {
      world.faults.clear();
      return json(200, { ok: true });
    }
  }
  if (s[0] === 'faults' && s.length === 2 && m === 'DELETE') {
    if (!world.faults.remove(s[1])) throw new HttpError(404, `fault rule '${s[1]}' not found`, 'NOT_FOUND');
    return json(200, { ok: true });
  }
  if (s[0] === 'sandboxes' && s.length === 3 && s[2] === 'terminate' && m === 'POST') {
    const sb = world.sandboxes.get(s[1]);
    if (!sb) throw new HttpError(404, `sandbox '${s[1]}' not found`, 'SANDBOX_NOT_FOUND');
    sb.terminate('terminated through /_sim');
    return json(200, { ok: true, status: sb.status });
  }
  throw new HttpError(404, `no control route for ${m} ${ctx.rawPath}`, 'NOT_FOUND');
}

function faultReply(f: StatusFault): Exclude<Reply, { stream: unknown }> {
  const headers: Record<string, string> = { ...(f.headers ?? {}) };
  const hasCt = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
  if (f.body === undefined)
    return { status: f.status, headers, json: { error: `injected fault: HTTP ${f.status}`, code: 'INJECTED_FAULT' } };
  if (typeof f.body === 'string') {
    if (!hasCt)
      headers['content-type'] = f.contentType ?? (f.body.trimStart().startsWith('<') ? 'text/html; charset=utf-8' : 'application/json');
    return { status: f.status, headers, raw: f.body };
  }
  if (!hasCt) headers['content-type'] = f.contentType ?? 'application/json';
  return { status: f.status, headers, raw: JSON.stringify(f.body) };
}

async function handle(world: World, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const t0 = performance.now();
  const method = (req.method ?? 'GET').toUpperCase();
  const url = req.url ?? '/';
  const qi = url.indexOf('?');
  const rawPath = qi < 0 ? url : url.slice(0, qi);
  const query = new URLSearchParams(qi < 0 ? '' : url.slice(qi + 1));
  let bodyP: Promise<Buffer> | undefined;
  const ctx: Ctx = {
    world,
    req,
    res,
    method,
    rawPath,
    segments: [],
    query,
    body: () => (bodyP ??= readBody(req, world.opts.maxBodyBytes)),
    bodyToFile: (path) => readBodyToFile(req, world.opts.maxBodyBytes, path),
    json: async () => {
      const body = await ctx.body();
      // §1.4: the platform's JSON bodies come with Content-Type: application/json (the control plane is lenient)
      const ct = String(req.headers['content-type'] ?? '');
      if (body.length > 0 && !rawPath.startsWith('/_sim/') && !/^application\/json\b/i.test(ct)) {
        throw new HttpError(415, `expected Content-Type: application/json, got '${ct || '(none)'}'`, 'UNSUPPORTED_MEDIA_TYPE');
      }
      return parseJsonBody(body);
    },
  };
  let entry: RequestLogEntry | undefined;
  try {
    try {
      ctx.segments = rawPath
        .split('/')
        .filter(Boolean)
        .map((p) => decodeURIComponent(p));
    } catch {
      throw new HttpError(400, `malformed percent-encoding in path '${rawPath}'`, 'INVALID_PATH');
    }
    if (ctx.segments[0] === '_sim') {
      let reply: Reply;
      try {
        reply = await control(world, ctx);
      } catch (e) {
        reply = errorReply(e);
      }
      if (!('stream' in reply)) sendReply(res, reply);
      return;
    }
    let sandboxId: string | undefined;
    try {
      sandboxId = roleOf(ctx.segments) === 'proxy' ? sandboxIdOf(ctx) : undefined;
    } catch {
      sandboxId = undefined;
    }
    const e: RequestLogEntry = {
      seq: ++world.requestSeq,
      at: nowIso(),
      method,
      path: url,
      status: 0,
      durationMs: 0,
      role: roleOf(ctx.segments),
      headers: redactHeaders(req.headers),
      ...(sandboxId ? { sandboxId } : {}),
    };
    entry = e;
    world.pushRequest(e);
    res.on('close', () => {
      e.durationMs = Math.round((performance.now() - t0) * 10) / 10;
      e.status = res.headersSent ? res.statusCode : 0;
      world.logLine(`${method} ${url} -> ${e.status || 'reset'} (${e.durationMs} ms)`);
    });

    const fired = world.faults.http(method, rawPath);
    if (fired.length) e.faults = fired.map((f) => f.id);
    // a detached delay: the server goes on with the work even if the client gave up meanwhile
    const detached = fired.some((f) => f.kind === 'delay' && f.detached === true);
    if (detached) await ctx.body().catch(() => undefined);
    for (const f of fired) {
      if (f.kind === 'delay' && f.when !== 'after') await holdFor(f.delayMs);
    }
    if (res.destroyed && !detached) return;
    const terminal = fired.find((f) => f.kind === 'status' || f.kind === 'reset' || f.kind === 'rejectAuth');
    if (terminal?.kind === 'reset' && terminal.when !== 'after') {
      req.socket.destroy();
      return;
    }
    if (terminal?.kind === 'status' && terminal.when !== 'after') {
      sendReply(res, faultReply(terminal));
      return;
    }
    if (terminal?.kind === 'rejectAuth') {
      sendReply(res, errorReply(new HttpError(401, 'Invalid API key or personal access token', 'UNAUTHORIZED')));
      return;
    }
    let reply: Reply;
    try {
      reply = await route(ctx);
    } catch (err) {
      reply = errorReply(err);
    }
    if (terminal?.kind === 'reset') {
      // ambiguous: the work is done, the client only sees a reset
      req.socket.destroy();
      return;
    }
    if (res.destroyed) return; // the client is gone (a detached delay): the work is done, nobody to answer
    for (const f of fired) {
      // the work is done; the answer is held (a client cancelled meanwhile never learns the result)
      if (f.kind === 'delay' && f.when === 'after') await holdFor(f.delayMs);
    }
    if (res.destroyed) return;
    // the work is done, but the answer is replaced (a 2xx whose body cannot be decoded, say)
    if (terminal?.kind === 'status') reply = faultReply(terminal);
    if ('stream' in reply) reply.stream(res);
    else sendReply(res, reply);
  } catch (err) {
    if (!res.headersSent && !res.destroyed) sendReply(res, errorReply(err));
    else res.destroy();
    if (entry && !(err instanceof HttpError)) world.logLine(`internal error on ${method} ${url}: ${String(err)}`);
  }
}

/** A fault delay; unref'd so that a held request never keeps a stopped simulator's process alive. */
function holdFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export function createSimServer(world: World): Server {
  const server = createServer((req, res) => {
    handle(world, req, res).catch((err: unknown) => {
      try {
        if (!res.headersSent) sendReply(res, errorReply(err));
        else res.destroy();
      } catch {
        res.destroy();
      }
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable)
      socket.end(
        'HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":"malformed HTTP request"}',
      );
    else socket.destroy();
  });
  return server;
}
