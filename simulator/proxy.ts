/**
 * Per-sandbox proxy / daemon role (§6): processes (start, list, status, follow SSE, run SSE),
 * file API, health and blob signing. Routed by X-Tensorlake-Sandbox-Id or Host <id>.local.
 */
import { rmSync } from 'node:fs';
import { posix } from 'node:path';
import { authenticate } from './auth.js';
import { launch } from './commands.js';
import { json, type Ctx, type Reply } from './http.js';
import { FsError, SPILL_BYTES } from './memfs.js';
import { followOutput, runStream, type SimProcess, type StartPayload } from './processes.js';
import type { Sandbox } from './sandbox.js';
import type { JsonValue } from './types.js';
import { HttpError, isObject, randomHex } from './util.js';
import { BUCKET, redactDockerConfig, type World } from './world.js';

export function sandboxIdOf(ctx: Pick<Ctx, 'req'>): string | undefined {
  const h = ctx.req.headers['x-tensorlake-sandbox-id'];
  const fromHeader = (Array.isArray(h) ? h[0] : h)?.trim();
  const host = (ctx.req.headers.host ?? '').replace(/:\d+$/, '');
  const fromHost = host.endsWith('.local') ? host.slice(0, -'.local'.length) : undefined;
  if (fromHeader && fromHost && fromHeader !== fromHost) {
    throw new HttpError(400, `X-Tensorlake-Sandbox-Id '${fromHeader}' does not match Host '${host}'`, 'SANDBOX_ROUTING_MISMATCH');
  }
  return fromHeader || fromHost || undefined;
}

function notAllowed(ctx: Ctx, allow: string): never {
  throw new HttpError(405, `method ${ctx.method} not allowed on ${ctx.rawPath} (allowed: ${allow})`, 'METHOD_NOT_ALLOWED', { allow });
}

export async function handleProxy(ctx: Ctx): Promise<Reply> {
  const world = ctx.world;
  const id = sandboxIdOf(ctx);
  if (!id)
    throw new HttpError(400, 'missing sandbox routing: send X-Tensorlake-Sandbox-Id or Host: <sandbox-id>.local', 'SANDBOX_ID_REQUIRED');
  const principal = authenticate(world, ctx.req);
  ctx.principal = principal;
  const sb = world.sandboxes.get(id);
  if (!sb) throw new HttpError(404, `sandbox '${id}' not found`, 'SANDBOX_NOT_FOUND');
  if (principal.organizationId !== sb.organizationId || principal.projectId !== sb.projectId) {
    throw new HttpError(
      403,
      `Forbidden: sandbox '${id}' does not belong to organization '${principal.organizationId}' project '${principal.projectId}'`,
      'FORBIDDEN',
    );
  }
  if (sb.status === 'terminated') {
    throw new HttpError(
      410,
      `sandbox '${id}' is terminated${sb.terminationReason ? ` (${sb.terminationReason})` : ''}; it can no longer be reached`,
      'SANDBOX_TERMINATED',
    );
  }
  if (sb.status !== 'running') throw new HttpError(400, `sandbox '${id}' is not running (status: ${sb.status})`, 'SANDBOX_NOT_RUNNING');

  const seg = ctx.segments.slice(2); // after api/v1
  const m = ctx.method;
  switch (seg[0]) {
    case 'health':
      if (seg.length !== 1) break;
      if (m !== 'GET') notAllowed(ctx, 'GET');
      return json(200, { healthy: true });
    case 'files':
      if (seg.length !== 1) break;
      return files(ctx, sb);
    case 'blob':
      if (seg.length !== 2 || seg[1] !== 'sign') break;
      if (m !== 'POST') notAllowed(ctx, 'POST');
      return blobSign(ctx, world, sb);
    case 'processes':
      return processes(ctx, world, sb, seg.slice(1));
  }
  throw new HttpError(404, `no route for ${m} ${ctx.rawPath}`, 'NOT_FOUND');
}

function parseStart(body: unknown): StartPayload {
  if (!isObject(body)) throw new HttpError(400, 'process start payload must be a JSON object', 'INVALID_ARGUMENT');
  if (typeof body.command !== 'string' || body.command.trim() === '')
    throw new HttpError(400, "field 'command' is required and must be a non-empty string", 'INVALID_ARGUMENT');
  const args = body.args ?? [];
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))
    throw new HttpError(400, "field 'args' must be an array of strings", 'INVALID_ARGUMENT');
  if (body.env !== undefined && (!isObject(body.env) || Object.values(body.env).some((v) => typeof v !== 'string'))) {
    throw new HttpError(400, "field 'env' must map names to strings", 'INVALID_ARGUMENT');
  }
  if (body.working_dir !== undefined && typeof body.working_dir !== 'string')
    throw new HttpError(400, "field 'working_dir' must be a string", 'INVALID_ARGUMENT');
  if (body.user !== undefined && typeof body.user !== 'string')
    throw new HttpError(400, "field 'user' must be a string", 'INVALID_ARGUMENT');
  if (body.user !== undefined && body.user !== 'root' && body.user !== 'sandbox')
    throw new HttpError(400, `unknown user '${String(body.user)}'`, 'INVALID_ARGUMENT');
  if (body.timeout !== undefined && (typeof body.timeout !== 'number' || body.timeout < 0))
    throw new HttpError(400, "field 'timeout' must be a non-negative number", 'INVALID_ARGUMENT');
  return {
    command: body.command,
    args: args as string[],
    env: body.env as Record<string, string> | undefined,
    working_dir: body.working_dir as string | undefined,
    user: body.user as string | undefined,
    timeout: body.timeout as number | undefined,
  };
}

async function processes(ctx: Ctx, world: World, sb: Sandbox, seg: string[]): Promise<Reply> {
  const m = ctx.method;
  if (seg.length === 0) {
    if (m === 'GET') return json(200, { processes: [...sb.processes.values()].map((p) => p.info()) });
    if (m !== 'POST') notAllowed(ctx, 'GET, POST');
    const proc = launch(world, sb, parseStart(await ctx.json()));
    return json(200, proc.info());
  }
  if (seg.length === 1 && seg[0] === 'run') {
    if (m !== 'POST') notAllowed(ctx, 'POST');
    requireEventStream(ctx);
    const proc = launch(world, sb, parseStart(await ctx.json()));
    const drop = world.faults.take('dropStream', (r) => canCut(r, proc), { method: m, path: ctx.rawPath });
    return {
      stream: (res) => {
        sb.openStreams.add(res);
        runStream(res, proc, { dropAfter: drop ? (drop.afterLines ?? 0) : undefined, onClose: () => sb.openStreams.delete(res) });
      },
    };
  }
  if (!/^\d+$/.test(seg[0])) throw new HttpError(400, `invalid pid '${seg[0]}'`, 'INVALID_ARGUMENT');
  const proc = sb.processes.get(Number(seg[0]));
  if (!proc) throw new HttpError(404, `process ${seg[0]} not found in sandbox '${sb.id}'`, 'PROCESS_NOT_FOUND');
  if (seg.length === 1) {
    if (m === 'GET') return json(200, proc.info());
    if (m === 'DELETE') {
      proc.kill(9);
      return json(200, proc.info());
    }
    notAllowed(ctx, 'GET, DELETE');
  }
  if (seg.length === 3 && seg[1] === 'output' && seg[2] === 'follow') {
    if (m !== 'GET') notAllowed(ctx, 'GET');
    requireEventStream(ctx);
    const drop = world.faults.take('dropStream', (r) => canCut(r, proc), { method: m, path: ctx.rawPath });
    return {
      stream: (res) => {
        sb.openStreams.add(res);
        followOutput(res, proc, { dropAfter: drop ? (drop.afterLines ?? 0) : undefined, onClose: () => sb.openStreams.delete(res) });
      },
    };
  }
  throw new HttpError(404, `no route for ${m} ${ctx.rawPath}`, 'NOT_FOUND');
}

function fsFail(verb: string, e: unknown): never {
  if (e instanceof FsError) {
    if (e.code === 'ENOENT' && verb !== 'create') throw new HttpError(404, `File not found: ${e.path}`, 'FILE_NOT_FOUND');
    throw new HttpError(500, `Failed to ${verb} file: ${e.message}`, 'FILE_ERROR');
  }
  throw e;
}

async function files(ctx: Ctx, sb: Sandbox): Promise<Reply> {
  const path = ctx.query.get('path');
  if (path === null || path === '') throw new HttpError(400, "missing required query parameter 'path'", 'INVALID_ARGUMENT');
  if (!path.startsWith('/')) throw new HttpError(400, `path must be absolute, got '${path}'`, 'INVALID_ARGUMENT');
  const fs = sb.fs;
  switch (ctx.method) {
    case 'PUT': {
      // a large upload (the context archive) goes to a host temp file, not memory
      if (Number(ctx.req.headers['content-length'] ?? 0) > SPILL_BYTES) {
        const host = fs.spillPath();
        let size: number;
        try {
          size = await ctx.bodyToFile(host);
          fs.writeFile(path, Buffer.alloc(0), { user: 'user', spill: { path: host, size } });
        } catch (e) {
          rmSync(host, { force: true });
          fsFail('create', e);
        }
        return json(200, { path, size });
      }
      const data = await ctx.body();
      try {
        fs.writeFile(path, data, { user: 'user' });
      } catch (e) {
        fsFail('create', e);
      }
      if (posix.basename(path) === 'spec.json') {
        let spec: JsonValue;
        try {
          spec = JSON.parse(data.toString('utf8')) as JsonValue;
          if (isObject(spec) && typeof spec.dockerConfigJson === 'string')
            spec = { ...spec, dockerConfigJson: redactDockerConfig(spec.dockerConfigJson) };
        } catch {
          spec = data.toString('utf8');
        }
        sb.specs.push({ path, at: new Date().toISOString(), spec });
      }
      return json(200, { path, size: data.length });
    }
    case 'GET': {
      let data: Buffer;
      try {
        data = fs.readFile(path);
      } catch (e) {
        if (e instanceof FsError && e.code === 'EISDIR') throw new HttpError(400, `path '${path}' is a directory`, 'IS_A_DIRECTORY');
        fsFail('read', e);
      }
      return { status: 200, raw: data, headers: { 'content-type': 'application/octet-stream' } };
    }
    case 'DELETE': {
      const node = fs.lstat(path);
      if (!node) throw new HttpError(404, `File not found: ${path}`, 'FILE_NOT_FOUND');
      try {
        fs.remove(path, { recursive: ctx.query.get('recursive') === 'true' });
      } catch (e) {
        fsFail('delete', e);
      }
      return json(200, { path, deleted: true });
    }
  }
  notAllowed(ctx, 'GET, PUT, DELETE');
}

async function blobSign(ctx: Ctx, world: World, sb: Sandbox): Promise<Reply> {
  const body = await ctx.json();
  const bad = (m: string): never => {
    throw new HttpError(400, `invalid blob sign request: ${m}`, 'INVALID_ARGUMENT');
  };
  if (!isObject(body)) bad('body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (!isObject(b.target)) bad("missing 'target' object");
  if (!isObject(b.op)) bad("missing 'op' object");
  const target = b.target as Record<string, unknown>;
  const op = b.op as Record<string, unknown>;
  const expires = new Date(Date.now() + 3600_000).toISOString();
  if (target.kind === 'artifact') {
    if (typeof target.rel_path !== 'string' || target.rel_path === '') bad('target.rel_path must be a non-empty string');
    if (op.kind !== 'put_artifact') bad(`op.kind '${String(op.kind)}' is not valid for target kind 'artifact' (expected 'put_artifact')`);
    let maxParts = 1;
    let partSize = 64 * 1024 * 1024;
    if (op.multipart_hint !== undefined) {
      const h = op.multipart_hint;
      if (!isObject(h)) bad('op.multipart_hint must be an object');
      const hint = h as Record<string, unknown>;
      if (typeof hint.max_parts !== 'number' || !Number.isInteger(hint.max_parts) || hint.max_parts < 1 || hint.max_parts > 10000)
        bad('op.multipart_hint.max_parts must be an integer in [1, 10000]');
      if (typeof hint.part_size_bytes !== 'number' || !Number.isInteger(hint.part_size_bytes) || hint.part_size_bytes < 5 * 1024 * 1024)
        bad('op.multipart_hint.part_size_bytes must be an integer >= 5 MiB');
      maxParts = hint.max_parts as number;
      partSize = hint.part_size_bytes as number;
    }
    const rel = target.rel_path as string;
    const build = [...world.builds.values()].find(
      (x) => x.snapshotRelPath === rel && x.organizationId === sb.organizationId && x.projectId === sb.projectId,
    );
    if (!build) throw new HttpError(404, `no prepared build owns artifact path '${rel}'`, 'ARTIFACT_NOT_FOUND');
    if (build.status !== 'prepared')
      throw new HttpError(409, `build '${build.buildId}' is '${build.status}'; its artifact can no longer be written`, 'CONFLICT');
    const uri = `${BUCKET}/dataplane/${sb.organizationId}/${sb.projectId}/${rel}`;
    build.signedSnapshotUri = uri;
    build.expectedSnapshotUri = uri;
    const uploadId = randomHex(12);
    const partUrls = Array.from(
      { length: maxParts },
      (_, i) => `https://tl-sim-bucket.s3.amazonaws.com/dataplane/${rel}?partNumber=${i + 1}&uploadId=${uploadId}&X-Amz-Signature=sim`,
    );
    return json(200, { kind: 's3_multipart', uri, uploadId, partSizeBytes: partSize, partUrls, expiresAt: expires });
  }
  if (target.kind === 'blob') {
    if (typeof target.uri !== 'string' || target.uri === '') bad('target.uri must be a non-empty string');
    if (op.kind !== 'get_blob') bad(`op.kind '${String(op.kind)}' is not valid for target kind 'blob' (expected 'get_blob')`);
    const uri = target.uri as string;
    const known = world.snapshots.has(uri) || [...world.templates.values()].some((t) => t.tpl.snapshotUri === uri);
    if (!known) throw new HttpError(404, `blob '${uri}' not found`, 'BLOB_NOT_FOUND');
    return json(200, {
      kind: 'presigned_get',
      uri,
      url: `https://tl-sim-bucket.s3.amazonaws.com/${uri.replace(/^s3:\/\/[^/]+\//, '')}?X-Amz-Signature=sim`,
      expiresAt: expires,
    });
  }
  return bad(`unknown target.kind '${String(target.kind)}' (expected 'artifact' or 'blob')`);
}

/**
 * A dropStream rule fires only on a stream it can actually cut: the process matches the rule's
 * `command` (a substring of the executable), and it is still running or has more output than
 * `afterLines`. A short, finished stream (a mkdir's) does not use the rule up.
 */
function canCut(rule: { command?: string; afterLines?: number }, proc: SimProcess): boolean {
  if (rule.command !== undefined && !proc.payload.command.includes(rule.command)) return false;
  return proc.running || proc.output.length > (rule.afterLines ?? 0);
}

/** §1.4: the two SSE endpoints are requested with `Accept: text/event-stream`. */
function requireEventStream(ctx: Ctx): void {
  const accept = String(ctx.req.headers.accept ?? '');
  if (!accept.includes('text/event-stream')) {
    throw new HttpError(
      406,
      `this endpoint streams server-sent events: send Accept: text/event-stream (got '${accept || '(none)'}')`,
      'NOT_ACCEPTABLE',
    );
  }
}
