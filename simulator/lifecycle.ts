/**
 * Sandbox lifecycle role (§5): create / get / delete / list. Localhost API URLs use the
 * namespaced paths `/v1/namespaces/<ns>/sandboxes…`; the plain `/sandboxes…` style of the
 * hosted service is served too (namespace `default`).
 */
import { authenticate } from './auth.js';
import { json, type Ctx, type Reply } from './http.js';
import { Sandbox } from './sandbox.js';
import { HttpError, isNonNegInt, isObject, randomAlnum } from './util.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export async function handleLifecycle(ctx: Ctx, namespace: string, rest: string[]): Promise<Reply> {
  const world = ctx.world;
  const principal = authenticate(world, ctx.req);
  ctx.principal = principal;
  const inScope = (s: Sandbox): boolean =>
    s.organizationId === principal.organizationId && s.projectId === principal.projectId && s.namespace === namespace;
  if (rest.length === 0) {
    if (ctx.method === 'GET') {
      const name = ctx.query.get('name');
      const status = ctx.query.get('status');
      const list = [...world.sandboxes.values()].filter(
        (s) => inScope(s) && (name === null || s.name === name) && (status === null || s.status === status),
      );
      return json(200, { sandboxes: list.map((s) => s.info(world.url)) });
    }
    if (ctx.method !== 'POST')
      throw new HttpError(405, `method ${ctx.method} not allowed on ${ctx.rawPath} (allowed: GET, POST)`, 'METHOD_NOT_ALLOWED', {
        allow: 'GET, POST',
      });
    const body = await ctx.json();
    if (!isObject(body)) throw new HttpError(400, 'request body must be a JSON object', 'INVALID_ARGUMENT');
    if (typeof body.image !== 'string' || body.image.trim() === '')
      throw new HttpError(400, "field 'image' is required and must be a non-empty string", 'INVALID_ARGUMENT');
    const r = body.resources ?? {};
    if (!isObject(r)) throw new HttpError(400, "field 'resources' must be an object", 'INVALID_ARGUMENT');
    if (r.cpus !== undefined && (typeof r.cpus !== 'number' || !(r.cpus > 0)))
      throw new HttpError(400, 'resources.cpus must be a positive number', 'INVALID_ARGUMENT');
    for (const k of ['memory_mb', 'disk_mb'] as const) {
      if (r[k] !== undefined && (!isNonNegInt(r[k]) || r[k] === 0))
        throw new HttpError(400, `resources.${k} must be a positive integer`, 'INVALID_ARGUMENT');
    }
    if (body.timeout_secs !== undefined && !isNonNegInt(body.timeout_secs))
      throw new HttpError(400, 'timeout_secs must be a non-negative integer', 'INVALID_ARGUMENT');
    let name: string | undefined;
    if (body.name !== undefined && body.name !== null) {
      if (typeof body.name !== 'string' || !NAME_RE.test(body.name))
        throw new HttpError(
          400,
          `invalid sandbox name ${JSON.stringify(body.name)}: 1-63 characters of [A-Za-z0-9._-], starting with a letter or digit`,
          'INVALID_ARGUMENT',
        );
      name = body.name;
      const clash = [...world.sandboxes.values()].find((s) => inScope(s) && s.name === name && s.status !== 'terminated');
      if (clash) throw new HttpError(409, `a sandbox named '${name}' already exists (${clash.id})`, 'ALREADY_EXISTS');
    }
    const id = 's' + randomAlnum(20);
    const sb = new Sandbox(
      id,
      namespace,
      principal.organizationId,
      principal.projectId,
      body.image,
      {
        cpus: typeof r.cpus === 'number' ? r.cpus : 1,
        memory_mb: typeof r.memory_mb === 'number' ? r.memory_mb : 1024,
        disk_mb: typeof r.disk_mb === 'number' ? r.disk_mb : 10240,
      },
      typeof body.timeout_secs === 'number' ? body.timeout_secs : undefined,
      name,
      `sim-node-${1 + (world.sandboxes.size % 3)}`,
    );
    world.addSandbox(sb);
    const term = world.faults.take('terminateSandbox', (f) => f.afterBuilderLines === undefined && f.sandboxId === undefined);
    if (term) sb.terminate(term.reason ?? 'terminated by the platform (injected fault)');
    else {
      const pend = world.faults.take('sandboxPending');
      world.setTimer(() => sb.markRunning(), pend ? pend.pendingMs : world.opts.sandboxPendingMs);
    }
    const out: Record<string, unknown> = { sandbox_id: id, status: 'pending', sandbox_url: world.url, routing_hint: sb.routingHint };
    if (name !== undefined) out.name = name;
    return json(200, out);
  }
  if (rest.length === 1) {
    const sb = world.sandboxes.get(rest[0]);
    if (!sb || !inScope(sb)) throw new HttpError(404, `sandbox '${rest[0]}' not found`, 'SANDBOX_NOT_FOUND');
    if (ctx.method === 'GET') return json(200, sb.info(world.url));
    if (ctx.method === 'DELETE') {
      if (sb.deletedAt) throw new HttpError(404, `sandbox '${sb.id}' not found (already deleted)`, 'SANDBOX_NOT_FOUND');
      sb.terminate('deleted by client');
      sb.deletedAt = new Date().toISOString();
      return json(200, { sandbox_id: sb.id, status: 'terminated' });
    }
    throw new HttpError(405, `method ${ctx.method} not allowed on ${ctx.rawPath} (allowed: GET, DELETE)`, 'METHOD_NOT_ALLOWED', {
      allow: 'GET, DELETE',
    });
  }
  throw new HttpError(404, `no route for ${ctx.method} ${ctx.rawPath}`, 'NOT_FOUND');
}
