/**
 * Platform API role (§1.3, §3, §4, §8, §9): introspection, template registry, prepare,
 * complete (durable → 200 template; cas-streaming → 202 + admission), build status.
 */
import { authenticate, bearer, checkScope, findKey, findPat, keyId, type Principal } from './auth.js';
import { startAdmission } from './admission.js';
import { json, type Ctx, type Reply } from './http.js';
import type { JsonObject } from './types.js';
import { HttpError, isNonNegInt, isObject, nowIso, randomHex, toJsonObject } from './util.js';
import { BUCKET, type Build, type StoredTemplate, type World } from './world.js';

const DURABLE = 'durable_archive_v1';
const CAS_FORMAT = 'content_addressed_streaming_v1';

function methodNotAllowed(ctx: Ctx, allow: string[]): never {
  throw new HttpError(405, `method ${ctx.method} not allowed on ${ctx.rawPath} (allowed: ${allow.join(', ')})`, 'METHOD_NOT_ALLOWED', {
    allow: allow.join(', '),
  });
}

function notFoundRoute(ctx: Ctx): never {
  throw new HttpError(404, `no route for ${ctx.method} ${ctx.rawPath}`, 'NOT_FOUND');
}

export async function handlePlatform(ctx: Ctx): Promise<Reply> {
  const seg = ctx.segments.slice(2); // after platform/v1
  if (seg[0] === 'keys' && seg[1] === 'introspect' && seg.length === 2) {
    if (ctx.method !== 'POST') methodNotAllowed(ctx, ['POST']);
    return introspect(ctx);
  }
  const principal = authenticate(ctx.world, ctx.req);
  ctx.principal = principal;
  let org: string;
  let project: string;
  let rest: string[];
  if (seg[0] === 'organizations' && seg[2] === 'projects' && seg.length >= 5) {
    org = seg[1];
    project = seg[3];
    checkScope(principal, org, project);
    rest = seg.slice(4);
  } else if (seg[0] === 'sandbox-templates' || seg[0] === 'sandbox-template-builds') {
    // token-scoped routes (introduced for API keys by later SDKs; docs/protocol.md §1.2)
    org = principal.organizationId;
    project = principal.projectId;
    rest = seg;
  } else notFoundRoute(ctx);
  const scope = { org, project, principal };
  const m = ctx.method;
  if (rest[0] === 'sandbox-templates') {
    if (rest.length === 1) {
      if (m === 'GET') return listTemplates(ctx, scope);
      if (m === 'POST') return registerTemplate(ctx, scope);
      methodNotAllowed(ctx, ['GET', 'POST']);
    }
    if (rest.length === 3 && rest[1] === 'by-name') {
      if (m !== 'GET') methodNotAllowed(ctx, ['GET']);
      const t = ctx.world.findTemplate(org, project, rest[2]);
      if (!t) throw new HttpError(404, `sandbox template '${rest[2]}' not found`, 'TEMPLATE_NOT_FOUND');
      return json(200, t.tpl);
    }
    if (rest.length === 2) {
      if (m === 'GET') {
        const t = ctx.world.findTemplate(org, project, rest[1], { byId: true });
        if (!t) throw new HttpError(404, `sandbox template '${rest[1]}' not found`, 'TEMPLATE_NOT_FOUND');
        return json(200, t.tpl);
      }
      if (m === 'DELETE') return deleteTemplate(ctx, scope, rest[1]);
      methodNotAllowed(ctx, ['GET', 'DELETE']);
    }
    notFoundRoute(ctx);
  }
  if (rest[0] === 'sandbox-template-builds') {
    if (rest.length === 1) {
      if (m === 'POST') return prepare(ctx, scope);
      if (m === 'GET')
        return json(200, {
          items: [...ctx.world.builds.values()].filter((b) => b.organizationId === org && b.projectId === project).map(buildStatusBody),
        });
      methodNotAllowed(ctx, ['GET', 'POST']);
    }
    const build = ctx.world.builds.get(rest[1]);
    const visible = build && build.organizationId === org && build.projectId === project ? build : undefined;
    if (rest.length === 2) {
      if (m !== 'GET') methodNotAllowed(ctx, ['GET']);
      if (!visible) throw new HttpError(404, `sandbox template build '${rest[1]}' not found`, 'BUILD_NOT_FOUND');
      return json(200, buildStatusBody(visible));
    }
    if (rest.length === 3 && rest[2] === 'complete') {
      if (m !== 'POST') methodNotAllowed(ctx, ['POST']);
      return complete(ctx, scope, rest[1], visible);
    }
  }
  notFoundRoute(ctx);
}

interface Scope {
  org: string;
  project: string;
  principal: Principal;
}

function introspect(ctx: Ctx): Reply {
  const token = bearer(ctx.req);
  const key = findKey(ctx.world, token);
  if (key) return json(200, { id: keyId(key), organizationId: key.organizationId, projectId: key.projectId });
  if (findPat(ctx.world, token)) {
    throw new HttpError(
      401,
      'Personal access tokens cannot be introspected: only API keys can (send X-Forwarded-Organization-Id / X-Forwarded-Project-Id instead)',
      'UNAUTHORIZED',
    );
  }
  throw new HttpError(401, 'Invalid API key', 'UNAUTHORIZED');
}

function listTemplates(ctx: Ctx, s: Scope): Reply {
  const ps = ctx.query.get('pageSize');
  const pageSize = ps === null ? 100 : Number(ps);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)
    throw new HttpError(400, `pageSize must be an integer between 1 and 1000, got '${ps}'`, 'INVALID_ARGUMENT');
  const cursor = ctx.query.get('cursor');
  let offset = 0;
  if (cursor !== null) {
    offset = Number(Buffer.from(cursor, 'base64url').toString('utf8').replace(/^o:/, ''));
    if (!Number.isInteger(offset) || offset < 0) throw new HttpError(400, `invalid cursor '${cursor}'`, 'INVALID_ARGUMENT');
  }
  const all = ctx.world.visibleTemplates(s.org, s.project).sort((a, b) => (a.tpl.name < b.tpl.name ? -1 : a.tpl.name > b.tpl.name ? 1 : 0));
  const items = all.slice(offset, offset + pageSize).map((t) => t.tpl);
  const nextOffset = offset + pageSize;
  const next =
    nextOffset < all.length
      ? `/platform/v1/organizations/${s.org}/projects/${s.project}/sandbox-templates?pageSize=${pageSize}&cursor=${Buffer.from(`o:${nextOffset}`).toString('base64url')}`
      : null;
  return json(200, { items, pagination: { next } });
}

function str(body: Record<string, unknown>, key: string, opts: { optional?: boolean; nonEmpty?: boolean } = {}): string | undefined {
  const v = body[key];
  if (v === undefined || (opts.optional && v === null)) {
    if (opts.optional) return undefined;
    throw new HttpError(400, `missing required field '${key}'`, 'INVALID_ARGUMENT');
  }
  if (typeof v !== 'string')
    throw new HttpError(400, `field '${key}' must be a string, got ${v === null ? 'null' : typeof v}`, 'INVALID_ARGUMENT');
  if (opts.nonEmpty && v.trim() === '') throw new HttpError(400, `field '${key}' must not be empty`, 'INVALID_ARGUMENT');
  return v;
}

function uint(body: Record<string, unknown>, key: string, opts: { optional?: boolean } = {}): number | undefined {
  const v = body[key];
  if (v === undefined && opts.optional) return undefined;
  if (v === undefined) throw new HttpError(400, `missing required field '${key}'`, 'INVALID_ARGUMENT');
  if (!isNonNegInt(v))
    throw new HttpError(400, `field '${key}' must be a non-negative integer, got ${JSON.stringify(v)}`, 'INVALID_ARGUMENT');
  return v;
}

function bool(body: Record<string, unknown>, key: string, opts: { optional?: boolean } = {}): boolean | undefined {
  const v = body[key];
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== 'boolean')
    throw new HttpError(
      400,
      v === undefined ? `missing required field '${key}'` : `field '${key}' must be a boolean, got ${JSON.stringify(v)}`,
      'INVALID_ARGUMENT',
    );
  return v;
}

async function objectBody(ctx: Ctx): Promise<Record<string, unknown>> {
  const body = await ctx.json();
  if (!isObject(body)) throw new HttpError(400, 'request body must be a JSON object', 'INVALID_ARGUMENT');
  return body;
}

async function registerTemplate(ctx: Ctx, s: Scope): Promise<Reply> {
  const body = await objectBody(ctx);
  const name = str(body, 'name', { nonEmpty: true })!;
  str(body, 'snapshotId', { nonEmpty: true });
  str(body, 'snapshotUri', { nonEmpty: true });
  uint(body, 'snapshotSizeBytes');
  uint(body, 'rootfsDiskBytes');
  bool(body, 'public', { optional: true });
  str(body, 'dockerfile', { optional: true });
  str(body, 'snapshotSandboxId', { optional: true });
  const fmt = str(body, 'snapshotFormatVersion', { optional: true });
  if (fmt !== undefined && fmt !== DURABLE && fmt !== CAS_FORMAT)
    throw new HttpError(400, `unsupported snapshotFormatVersion '${fmt}'`, 'INVALID_ARGUMENT');
  const kind = str(body, 'rootfsNodeKind', { optional: true });
  if (kind !== undefined && kind !== 'base' && kind !== 'diff')
    throw new HttpError(400, `rootfsNodeKind must be 'base' or 'diff', got '${kind}'`, 'INVALID_ARGUMENT');
  const existing = ctx.world.findTemplate(s.org, s.project, name);
  if (existing && existing.organizationId === s.org && existing.projectId === s.project) {
    throw new HttpError(409, `sandbox template '${name}' already exists in project '${s.project}'`, 'ALREADY_EXISTS');
  }
  const tpl = {
    ...toJsonObject(body),
    id: `sandbox_template_${randomHex(10)}`,
    name,
    public: body.public === true,
    createdAt: nowIso(),
  } as StoredTemplate['tpl'];
  ctx.world.registerTemplate(s.org, s.project, tpl);
  return json(201, tpl);
}

function deleteTemplate(ctx: Ctx, s: Scope, nameOrId: string): Reply {
  const t = ctx.world.findTemplate(s.org, s.project, nameOrId, { byId: true });
  if (!t) throw new HttpError(404, `sandbox template '${nameOrId}' not found`, 'TEMPLATE_NOT_FOUND');
  if (t.organizationId !== s.org || t.projectId !== s.project) {
    throw new HttpError(
      403,
      `Forbidden: sandbox template '${nameOrId}' does not belong to project '${s.project}' and cannot be deleted`,
      'FORBIDDEN',
    );
  }
  ctx.world.templates.delete(t.tpl.id);
  return { status: 204 };
}

interface LocalImage {
  templateId: string;
  name: string;
  reference: string;
  snapshotId: string;
  public: boolean;
}

function localImage(v: unknown, where: string): LocalImage {
  if (!isObject(v)) throw new HttpError(400, `${where} must be an object`, 'INVALID_ARGUMENT');
  for (const k of ['templateId', 'name', 'reference', 'snapshotId']) {
    if (typeof v[k] !== 'string' || (v[k] as string) === '')
      throw new HttpError(400, `${where}.${k} must be a non-empty string`, 'INVALID_ARGUMENT');
  }
  if (v.public !== undefined && typeof v.public !== 'boolean')
    throw new HttpError(400, `${where}.public must be a boolean`, 'INVALID_ARGUMENT');
  return v as unknown as LocalImage;
}

function resolveLocalImage(world: World, s: Scope, e: LocalImage, where: string): StoredTemplate {
  const t = world.visibleTemplates(s.org, s.project).find((x) => x.tpl.id === e.templateId);
  if (!t) throw new HttpError(404, `${where}: sandbox template '${e.templateId}' (${e.reference}) not found`, 'TEMPLATE_NOT_FOUND');
  if (t.tpl.snapshotId !== e.snapshotId) {
    throw new HttpError(
      400,
      `${where}: snapshotId '${e.snapshotId}' does not match template '${e.templateId}' (current snapshot '${String(t.tpl.snapshotId)}')`,
      'INVALID_ARGUMENT',
    );
  }
  return t;
}

async function prepare(ctx: Ctx, s: Scope): Promise<Reply> {
  const world = ctx.world;
  const body = await objectBody(ctx);
  const name = str(body, 'name', { nonEmpty: true })!;
  const dockerfile = str(body, 'dockerfile', { nonEmpty: true })!;
  const baseImage = str(body, 'baseImage', { nonEmpty: true })!;
  const isPublic = bool(body, 'public')!;
  const kind = str(body, 'rootfsNodeKind')!;
  if (kind !== 'base' && kind !== 'diff')
    throw new HttpError(400, `rootfsNodeKind must be 'base' or 'diff', got '${kind}'`, 'INVALID_ARGUMENT');
  if (!('parentTemplate' in body))
    throw new HttpError(400, "missing required field 'parentTemplate' (send null for base builds)", 'INVALID_ARGUMENT');
  const fmt = str(body, 'rootfsFormat', { optional: true });
  if (fmt !== undefined && fmt !== 'cas-streaming')
    throw new HttpError(400, `unsupported rootfsFormat '${fmt}' (supported: cas-streaming)`, 'INVALID_ARGUMENT');
  if (!('additionalLocalImages' in body))
    throw new HttpError(400, "missing required field 'additionalLocalImages' (send [] when there are none)", 'INVALID_ARGUMENT');
  const extra = body.additionalLocalImages;
  if (!Array.isArray(extra)) throw new HttpError(400, "field 'additionalLocalImages' must be an array", 'INVALID_ARGUMENT');
  const extras = extra.map((e, i) => localImage(e, `additionalLocalImages[${i}]`));
  let parent: StoredTemplate | undefined;
  if (kind === 'diff') {
    if (body.parentTemplate === null) throw new HttpError(400, "rootfsNodeKind 'diff' requires a parentTemplate", 'INVALID_ARGUMENT');
    parent = resolveLocalImage(world, s, localImage(body.parentTemplate, 'parentTemplate'), 'parentTemplate');
    if (parent.tpl.rootfsNodeKind !== undefined && parent.tpl.rootfsNodeKind !== 'base') {
      throw new HttpError(
        400,
        `parent template '${parent.tpl.name}' has rootfsNodeKind '${String(parent.tpl.rootfsNodeKind)}'; only base templates can be parents`,
        'INVALID_ARGUMENT',
      );
    }
    if (parent.tpl.snapshotFormatVersion !== undefined && parent.tpl.snapshotFormatVersion !== DURABLE) {
      throw new HttpError(
        400,
        `parent template '${parent.tpl.name}' uses snapshot format '${String(parent.tpl.snapshotFormatVersion)}', which the rootfs builder cannot materialize`,
        'INVALID_ARGUMENT',
      );
    }
  } else if (body.parentTemplate !== null) {
    throw new HttpError(400, "rootfsNodeKind 'base' must not have a parentTemplate", 'INVALID_ARGUMENT');
  }
  const extraTemplates = extras.map((e, i) => resolveLocalImage(world, s, e, `additionalLocalImages[${i}]`));
  const cas = fmt === 'cas-streaming';
  if (cas && (parent || extraTemplates.length)) {
    throw new HttpError(
      400,
      'cas-streaming builds support only base images: parentTemplate must be null and additionalLocalImages empty',
      'INVALID_ARGUMENT',
    );
  }

  const buildId = `sandbox_template_build_${randomHex(10)}`;
  const snapshotId = `snapshot_${randomHex(10)}`;
  const relPath = `sandbox-template-builds/${buildId}/${snapshotId}.${cas ? 'pack' : 'tlsnap'}`;
  const preparedUri = `${BUCKET}/projects/${s.project}/${relPath}`;
  const o = world.opts;
  const resp: JsonObject = {
    buildId,
    name,
    snapshotId,
    rootfsNodeKind: kind,
    baseImage,
    public: isPublic,
    builder: {
      image: o.builder.image,
      command: 'tl-rootfs-build',
      cpus: o.builder.cpus,
      memoryMb: o.builder.memoryMb,
      diskMb: o.builder.diskMb,
    },
    runtimeContract: { guestRuntimeLayout: 'embedded', guestRuntimeDriveFormat: 'none', guestBootContract: 'supervisor-init-wrapper-v1' },
    parent: parent
      ? {
          templateId: parent.tpl.id,
          snapshotId: String(parent.tpl.snapshotId),
          parentManifestUri: String(parent.tpl.snapshotUri),
          ...(typeof parent.tpl.rootfsDiskBytes === 'number' ? { rootfsDiskBytes: parent.tpl.rootfsDiskBytes } : {}),
        }
      : null,
    additionalLocalImages: extraTemplates.map((t, i) => ({ ...toJsonObject(extras[i]), snapshotUri: String(t.tpl.snapshotUri) })),
  };
  if (cas) resp.rootfsFormat = 'cas-streaming';
  let preparedSnapshotUri: string | undefined;
  if (o.prepareShape === 'legacy') {
    resp.snapshotUri = preparedUri;
    resp.upload = {
      kind: 'single_put',
      method: 'PUT',
      url: `https://tl-sim-bucket.s3.amazonaws.com/projects/${s.project}/${relPath}?X-Amz-Signature=${randomHex(16)}`,
      headers: {},
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    };
    preparedSnapshotUri = preparedUri;
  } else {
    resp.snapshotRelPath = relPath;
    if (o.staleSnapshotUri) resp.snapshotUri = `${BUCKET}/stale/${relPath}`;
  }
  const build: Build = {
    buildId,
    organizationId: s.org,
    projectId: s.project,
    name,
    status: 'prepared',
    rootfsNodeKind: kind,
    rootfsFormat: fmt,
    snapshotId,
    expectedSnapshotUri: preparedSnapshotUri,
    snapshotRelPath: o.prepareShape === 'new' ? relPath : undefined,
    history: [{ status: 'prepared', at: nowIso() }],
    prepareRequest: toJsonObject(body),
    prepareResponse: resp,
    completeRequests: [],
    public: isPublic,
    dockerfile,
    baseImage,
    preparedSnapshotUri,
    parentManifestUri: parent ? String(parent.tpl.snapshotUri) : undefined,
    parentTemplateId: parent?.tpl.id,
  };
  world.builds.set(buildId, build);
  return json(200, resp);
}

export function buildStatusBody(b: Build): JsonObject {
  const o: JsonObject = {
    buildId: b.buildId,
    name: b.name,
    status: b.status,
    rootfsNodeKind: b.rootfsNodeKind,
    createdAt: b.history[0]?.at ?? null,
    updatedAt: b.history[b.history.length - 1]?.at ?? null,
  };
  if (b.rootfsFormat) o.rootfsFormat = b.rootfsFormat;
  if (b.status === 'completed' && b.template) o.template = b.template;
  if (b.error) o.error = b.error;
  return o;
}

async function complete(ctx: Ctx, s: Scope, buildId: string, build: Build | undefined): Promise<Reply> {
  const world = ctx.world;
  if (!build) throw new HttpError(404, `sandbox template build '${buildId}' not found`, 'BUILD_NOT_FOUND');
  const body = await objectBody(ctx);
  build.completeRequests.push(toJsonObject(body));
  if (build.status !== 'prepared') {
    throw new HttpError(
      409,
      `sandbox template build '${buildId}' is '${build.status}', expected 'prepared': it cannot be completed again`,
      'CONFLICT',
    );
  }
  const snapshotId = str(body, 'snapshotId', { nonEmpty: true })!;
  const snapshotUri = str(body, 'snapshotUri', { nonEmpty: true })!;
  const fmt = str(body, 'snapshotFormatVersion')!;
  const size = uint(body, 'snapshotSizeBytes')!;
  const disk = uint(body, 'rootfsDiskBytes')!;
  const kind = str(body, 'rootfsNodeKind')!;
  const pmu = str(body, 'parentManifestUri', { optional: true });
  const rf = str(body, 'rootfsFormat', { optional: true });
  if (fmt !== DURABLE && fmt !== CAS_FORMAT) throw new HttpError(400, `unsupported snapshotFormatVersion '${fmt}'`, 'INVALID_ARGUMENT');
  if (kind !== 'base' && kind !== 'diff')
    throw new HttpError(400, `rootfsNodeKind must be 'base' or 'diff', got '${kind}'`, 'INVALID_ARGUMENT');
  if (rf !== undefined && rf !== 'cas-streaming') throw new HttpError(400, `unsupported rootfsFormat '${rf}'`, 'INVALID_ARGUMENT');
  const cas = build.rootfsFormat === 'cas-streaming';
  if (cas && rf !== 'cas-streaming')
    throw new HttpError(
      400,
      `build '${buildId}' was prepared with rootfsFormat 'cas-streaming'; the completion must send rootfsFormat 'cas-streaming'`,
      'INVALID_ARGUMENT',
    );
  if (!cas && rf !== undefined)
    throw new HttpError(
      400,
      `build '${buildId}' was prepared as a durable build; rootfsFormat '${rf}' is not allowed in its completion`,
      'INVALID_ARGUMENT',
    );
  const wantFmt = cas ? CAS_FORMAT : DURABLE;
  if (fmt !== wantFmt)
    throw new HttpError(
      400,
      `snapshotFormatVersion '${fmt}' does not match the build's format (expected '${wantFmt}')`,
      'INVALID_ARGUMENT',
    );
  if (snapshotId !== build.snapshotId)
    throw new HttpError(400, `snapshotId '${snapshotId}' does not match the prepared snapshot '${build.snapshotId}'`, 'INVALID_ARGUMENT');
  if (kind !== build.rootfsNodeKind)
    throw new HttpError(400, `rootfsNodeKind '${kind}' does not match the prepared build ('${build.rootfsNodeKind}')`, 'INVALID_ARGUMENT');
  const expected = build.expectedSnapshotUri;
  if (expected === undefined) {
    throw new HttpError(
      400,
      `snapshotUri '${snapshotUri}' was not issued for build '${buildId}': the upload was never signed (call POST /api/v1/blob/sign with snapshotRelPath '${build.snapshotRelPath ?? ''}')`,
      'INVALID_ARGUMENT',
    );
  }
  if (snapshotUri !== expected)
    throw new HttpError(
      400,
      `snapshotUri '${snapshotUri}' does not match the ${build.signedSnapshotUri ? 'signed' : 'prepared'} snapshot URI '${expected}' of build '${buildId}'`,
      'INVALID_ARGUMENT',
    );
  if (kind === 'diff') {
    if (pmu === undefined) throw new HttpError(400, 'diff builds must send parentManifestUri', 'INVALID_ARGUMENT');
    if (pmu !== build.parentManifestUri)
      throw new HttpError(
        400,
        `parentManifestUri '${pmu}' does not match the parent template's manifest '${build.parentManifestUri ?? ''}'`,
        'INVALID_ARGUMENT',
      );
  }
  if (disk === 0) throw new HttpError(400, 'rootfsDiskBytes must be positive', 'INVALID_ARGUMENT');

  // §8.2/§8.3: rootfsDiskBytes is the target the builder built for (metadata for ext4, the client's
  // own target for cas-streaming); both equal spec.rootfsDiskBytes, which the builder recorded.
  const builtFor = cas ? world.chunks.staged.get(snapshotUri)?.rootfsDiskBytes : world.snapshots.get(snapshotUri)?.rootfsDiskBytes;
  if (builtFor !== undefined && disk !== builtFor) {
    throw new HttpError(
      400,
      `rootfsDiskBytes ${disk} does not match the target the builder built for (${builtFor} bytes)`,
      'INVALID_ARGUMENT',
    );
  }

  if (cas) {
    world.setBuildStatus(build, 'ingesting', 'complete accepted; verifying and admitting staged chunks');
    startAdmission(world, build, { snapshotUri, snapshotSizeBytes: size, rootfsDiskBytes: disk });
    return json(202, { status: 'ingesting', buildId });
  }
  const snap = world.snapshots.get(snapshotUri);
  if (!snap) throw new HttpError(400, `snapshot '${snapshotUri}' does not exist: nothing was uploaded to it`, 'SNAPSHOT_NOT_FOUND');
  if (snap.sizeBytes !== size)
    throw new HttpError(
      400,
      `snapshotSizeBytes ${size} does not match the uploaded snapshot '${snapshotUri}' (${snap.sizeBytes} bytes)`,
      'INVALID_ARGUMENT',
    );
  const tpl = {
    id: `sandbox_template_${randomHex(10)}`,
    name: build.name,
    snapshotId,
    snapshotUri,
    snapshotFormatVersion: fmt,
    snapshotSizeBytes: size,
    rootfsDiskBytes: disk,
    rootfsNodeKind: kind,
    public: build.public,
    dockerfile: build.dockerfile,
    buildId,
    createdAt: nowIso(),
    ...(pmu !== undefined ? { parentManifestUri: pmu } : {}),
    ...(build.parentTemplateId ? { parentTemplateId: build.parentTemplateId } : {}),
  } as StoredTemplate['tpl'];
  world.registerTemplate(build.organizationId, build.projectId, tpl);
  build.templateId = tpl.id;
  build.template = tpl;
  world.setBuildStatus(build, 'completed', `registered template ${tpl.id}`);
  return json(200, tpl);
}
