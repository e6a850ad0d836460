/** Platform API role: auth and scope (§1), templates (§3), prepare (§4), complete/poll (§8, §9), bad requests. */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import { startSimulator, type SimulatorHandle } from '../../simulator/index.js';
import { buildFlow, FAST, KEY, obj, ORG, PAT, PROJ, req, SCOPE } from './client.js';

let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator({
    ...FAST,
    apiKeys: [
      { key: KEY, id: 'key_sim', organizationId: ORG, projectId: PROJ },
      { key: 'tl_other_key', organizationId: 'org_other', projectId: 'proj_other' },
    ],
    pats: [
      {
        token: PAT,
        scopes: [
          { organizationId: ORG, projectId: PROJ },
          { organizationId: ORG, projectId: 'proj_two' },
        ],
      },
    ],
  });
});
afterAll(() => sim.stop());

const PAT_H = { 'x-forwarded-organization-id': ORG, 'x-forwarded-project-id': PROJ };

function prepBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'img',
    dockerfile: 'FROM ubuntu:24.04\n',
    baseImage: 'ubuntu:24.04',
    public: false,
    rootfsNodeKind: 'base',
    parentTemplate: null,
    additionalLocalImages: [],
    ...extra,
  };
}

async function up(): Promise<void> {
  const r = await req(sim, 'GET', `${SCOPE}/sandbox-templates/by-name/tensorlake%2Fbase%3A1`);
  assert.equal(r.status, 200, 'server still up');
}

test('introspection: API key → ids; PAT → 401; bad token → 401 JSON; no Authorization → 401', async () => {
  const ok = await req(sim, 'POST', '/platform/v1/keys/introspect');
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, { id: 'key_sim', organizationId: ORG, projectId: PROJ });
  const pat = await req(sim, 'POST', '/platform/v1/keys/introspect', { token: PAT });
  assert.equal(pat.status, 401);
  assert.match(obj(pat).error, /Personal access tokens cannot be introspected/);
  const bad = await req(sim, 'POST', '/platform/v1/keys/introspect', { token: 'nope' });
  assert.deepEqual([bad.status, obj(bad).error, obj(bad).code], [401, 'Invalid API key', 'UNAUTHORIZED']);
  const none = await req(sim, 'POST', '/platform/v1/keys/introspect', { token: null });
  assert.equal(none.status, 401);
  assert.match(obj(none).error, /Missing Authorization header/);
  const get = await req(sim, 'GET', '/platform/v1/keys/introspect');
  assert.equal(get.status, 405);
  assert.equal(get.headers.allow, 'POST');
});

test('scope: API key on another project → 403; PAT needs both scope headers; PAT outside its scopes → 403', async () => {
  const other = await req(sim, 'GET', `${SCOPE}/sandbox-templates/by-name/x`, { token: 'tl_other_key' });
  assert.equal(other.status, 403);
  assert.equal(obj(other).error, `Forbidden: credentials are not authorized for organization '${ORG}' project '${PROJ}'`);
  const noHeaders = await req(sim, 'GET', `${SCOPE}/sandbox-templates/by-name/x`, { token: PAT });
  assert.equal(noHeaders.status, 403);
  assert.match(
    obj(noHeaders).error,
    /must send the X-Forwarded-Organization-Id and X-Forwarded-Project-Id headers \(missing: X-Forwarded-Organization-Id and X-Forwarded-Project-Id\)/,
  );
  const half = await req(sim, 'GET', `${SCOPE}/sandbox-templates/by-name/x`, {
    token: PAT,
    headers: { 'x-forwarded-organization-id': ORG },
  });
  assert.match(obj(half).error, /missing: X-Forwarded-Project-Id\)/);
  const outside = await req(sim, 'GET', `${SCOPE}/sandbox-templates/by-name/x`, {
    token: PAT,
    headers: { ...PAT_H, 'x-forwarded-project-id': 'proj_nope' },
  });
  assert.equal(outside.status, 403);
  assert.match(obj(outside).error, /no access to organization 'org_sim' project 'proj_nope'/);
  // header scope ≠ path scope
  const mismatch = await req(sim, 'GET', `${SCOPE}/sandbox-templates/by-name/x`, {
    token: PAT,
    headers: { ...PAT_H, 'x-forwarded-project-id': 'proj_two' },
  });
  assert.equal(mismatch.status, 403);
  const fine = await req(sim, 'GET', `${SCOPE}/sandbox-templates/by-name/tensorlake%2Fbase%3A1`, { token: PAT, headers: PAT_H });
  assert.equal(fine.status, 200);
  // lifecycle and proxy need the headers too
  const lc = await req(sim, 'GET', '/v1/namespaces/default/sandboxes', { token: PAT });
  assert.equal(lc.status, 403);
  const bad = await req(sim, 'GET', '/v1/namespaces/default/sandboxes', { token: 'garbage' });
  assert.deepEqual([bad.status, obj(bad).code], [401, 'UNAUTHORIZED']);
});

test('templates: by-name with §3 encoding, describe, list with pagination, register, delete', async () => {
  const seeded = await req(sim, 'GET', `${SCOPE}/sandbox-templates/by-name/tensorlake%2Fbase%3A1`, {
    headers: { accept: 'application/json' },
  });
  assert.equal(obj(seeded).name, 'tensorlake/base:1');
  assert.equal(obj(seeded).rootfsNodeKind, 'base');
  assert.equal(obj(seeded).snapshotFormatVersion, 'durable_archive_v1');
  const missing = await req(sim, 'GET', `${SCOPE}/sandbox-templates/by-name/python%3A3.12-slim`);
  assert.deepEqual([missing.status, obj(missing).error], [404, "sandbox template 'python:3.12-slim' not found"]);
  const badEnc = await req(sim, 'GET', `${SCOPE}/sandbox-templates/by-name/%E0%A4%A`);
  assert.equal(badEnc.status, 400);

  const reg = (name: string) =>
    req(sim, 'POST', `${SCOPE}/sandbox-templates`, {
      json: {
        name,
        dockerfile: 'FROM x\n',
        snapshotId: 's1',
        snapshotSandboxId: 'sb',
        snapshotUri: 's3://b/x.tlsnap',
        snapshotSizeBytes: 10,
        rootfsDiskBytes: 1024,
        public: false,
      },
    });
  for (const n of ['org/a:1', 'org/b:1', 'org/c:1']) assert.equal((await reg(n)).status, 201);
  const dup = await reg('org/a:1');
  assert.deepEqual([dup.status, obj(dup).code], [409, 'ALREADY_EXISTS']);
  const badReg = await req(sim, 'POST', `${SCOPE}/sandbox-templates`, { json: { name: 'x', snapshotId: 1 } });
  assert.deepEqual([badReg.status, obj(badReg).error], [400, "field 'snapshotId' must be a string, got number"]);

  const names: string[] = [];
  let next: string | null = `${SCOPE}/sandbox-templates?pageSize=2`;
  let pages = 0;
  while (next) {
    const page = obj(await req(sim, 'GET', next));
    names.push(...(page.items as Array<{ name: string }>).map((t) => t.name));
    next = page.pagination.next as string | null;
    pages++;
  }
  assert.deepEqual(names, ['org/a:1', 'org/b:1', 'org/c:1', 'tensorlake/base:1']);
  assert.equal(pages, 2);
  assert.equal((await req(sim, 'GET', `${SCOPE}/sandbox-templates?pageSize=0`)).status, 400);

  const described = await req(sim, 'GET', `${SCOPE}/sandbox-templates/org%2Fb%3A1`);
  assert.equal(obj(described).name, 'org/b:1');
  const byId = await req(sim, 'GET', `${SCOPE}/sandbox-templates/${obj(described).id as string}`);
  assert.equal(obj(byId).name, 'org/b:1');
  const del = await req(sim, 'DELETE', `${SCOPE}/sandbox-templates/org%2Fb%3A1`);
  assert.equal(del.status, 204);
  assert.equal((await req(sim, 'GET', `${SCOPE}/sandbox-templates/by-name/org%2Fb%3A1`)).status, 404);
  assert.equal((await req(sim, 'DELETE', `${SCOPE}/sandbox-templates/org%2Fb%3A1`)).status, 404);
  const seededDel = await req(sim, 'DELETE', `${SCOPE}/sandbox-templates/tensorlake%2Fbase%3A1`);
  assert.equal(seededDel.status, 403);
  // another project does not see org/a:1
  const other = await req(sim, 'GET', '/platform/v1/organizations/org_other/projects/proj_other/sandbox-templates/by-name/org%2Fa%3A1', {
    token: 'tl_other_key',
  });
  assert.equal(other.status, 404);
});

test('prepare: both shapes of the response, and every validation error', async () => {
  const p = await req(sim, 'POST', `${SCOPE}/sandbox-template-builds`, { json: prepBody() });
  assert.equal(p.status, 200);
  const b = obj(p);
  assert.match(b.buildId, /^sandbox_template_build_/);
  assert.match(b.snapshotRelPath, /^sandbox-template-builds\/sandbox_template_build_\w+\/snapshot_\w+\.tlsnap$/);
  assert.match(b.snapshotUri, /^s3:\/\/tl-sim-bucket\/stale\//, 'new shape: stale snapshotUri by default');
  assert.deepEqual(b.builder, {
    image: 'tensorlake/rootfs-builder:sim',
    command: 'tl-rootfs-build',
    cpus: 2,
    memoryMb: 4096,
    diskMb: 20480,
  });
  assert.equal(b.parent, null);
  assert.ok(b.runtimeContract);
  assert.equal(b.rootfsFormat, undefined);
  assert.equal(sim.state().builds.find((x) => x.buildId === b.buildId)?.status, 'prepared');

  const legacySim = await startSimulator({ ...FAST, prepareShape: 'legacy' });
  try {
    const l = obj(await req(legacySim, 'POST', `${SCOPE}/sandbox-template-builds`, { json: prepBody({ rootfsFormat: 'cas-streaming' }) }));
    assert.match(l.snapshotUri, /^s3:\/\/tl-sim-bucket\/projects\/proj_sim\/sandbox-template-builds\/.*\.pack$/);
    assert.equal(l.upload.kind, 'single_put');
    assert.equal(l.snapshotRelPath, undefined);
    assert.equal(l.rootfsFormat, 'cas-streaming');
  } finally {
    await legacySim.stop();
  }

  const base = obj(await req(sim, 'GET', `${SCOPE}/sandbox-templates/by-name/tensorlake%2Fbase%3A1`));
  const parent = { templateId: base.id, name: base.name, reference: 'tensorlake/base:1', snapshotId: base.snapshotId, public: true };
  const diff = obj(
    await req(sim, 'POST', `${SCOPE}/sandbox-template-builds`, { json: prepBody({ rootfsNodeKind: 'diff', parentTemplate: parent }) }),
  );
  assert.deepEqual(diff.parent, {
    templateId: base.id,
    snapshotId: base.snapshotId,
    parentManifestUri: base.snapshotUri,
    rootfsDiskBytes: 10737418240,
  });

  const cases: Array<[Record<string, unknown> | string, number, RegExp]> = [
    ['{"name":', 400, /^request body is not valid JSON/],
    ['[]', 400, /^request body must be a JSON object$/],
    [{ ...prepBody(), name: undefined }, 400, /^missing required field 'name'$/],
    [{ ...prepBody(), public: 'no' }, 400, /^field 'public' must be a boolean, got "no"$/],
    [{ ...prepBody(), dockerfile: 42 }, 400, /^field 'dockerfile' must be a string, got number$/],
    [{ ...prepBody(), rootfsNodeKind: 'layer' }, 400, /^rootfsNodeKind must be 'base' or 'diff', got 'layer'$/],
    [{ ...prepBody(), parentTemplate: undefined }, 400, /^missing required field 'parentTemplate'/],
    [prepBody({ rootfsNodeKind: 'diff' }), 400, /^rootfsNodeKind 'diff' requires a parentTemplate$/],
    [prepBody({ parentTemplate: parent }), 400, /^rootfsNodeKind 'base' must not have a parentTemplate$/],
    [
      prepBody({ rootfsNodeKind: 'diff', parentTemplate: { ...parent, templateId: 'sandbox_template_nope' } }),
      404,
      /^parentTemplate: sandbox template 'sandbox_template_nope' \(tensorlake\/base:1\) not found$/,
    ],
    [
      prepBody({ rootfsNodeKind: 'diff', parentTemplate: { ...parent, snapshotId: 'old' } }),
      400,
      /snapshotId 'old' does not match template/,
    ],
    [prepBody({ rootfsNodeKind: 'diff', parentTemplate: { name: 'x' } }), 400, /^parentTemplate.templateId must be a non-empty string$/],
    [prepBody({ additionalLocalImages: {} }), 400, /^field 'additionalLocalImages' must be an array$/],
    [prepBody({ rootfsFormat: 'zstd' }), 400, /^unsupported rootfsFormat 'zstd'/],
    [
      prepBody({ rootfsFormat: 'cas-streaming', rootfsNodeKind: 'diff', parentTemplate: parent }),
      400,
      /^cas-streaming builds support only base images/,
    ],
  ];
  for (const [body, status, re] of cases) {
    const r =
      typeof body === 'string'
        ? await req(sim, 'POST', `${SCOPE}/sandbox-template-builds`, { raw: body, headers: { 'content-type': 'application/json' } })
        : await req(sim, 'POST', `${SCOPE}/sandbox-template-builds`, { json: body });
    assert.equal(r.status, status, `${JSON.stringify(body)} → ${r.text}`);
    assert.match(obj(r).error, re);
  }
  await up();
});

test('complete and poll: unknown build 404, wrong snapshot URI / id / kind / format 400, unsigned 400, second complete 409', async () => {
  const unknown = await req(sim, 'POST', `${SCOPE}/sandbox-template-builds/sandbox_template_build_nope/complete`, { json: {} });
  assert.deepEqual([unknown.status, obj(unknown).error], [404, "sandbox template build 'sandbox_template_build_nope' not found"]);
  const unknownPoll = await req(sim, 'GET', `${SCOPE}/sandbox-template-builds/sandbox_template_build_nope`);
  assert.equal(unknownPoll.status, 404);

  // prepared but never signed (new path): the stale URI is refused
  const p = obj(await req(sim, 'POST', `${SCOPE}/sandbox-template-builds`, { json: prepBody() }));
  const body = {
    snapshotId: p.snapshotId,
    snapshotUri: p.snapshotUri,
    snapshotFormatVersion: 'durable_archive_v1',
    snapshotSizeBytes: 10,
    rootfsDiskBytes: 1024,
    rootfsNodeKind: 'base',
  };
  const unsigned = await req(sim, 'POST', `${SCOPE}/sandbox-template-builds/${p.buildId as string}/complete`, { json: body });
  assert.equal(unsigned.status, 400);
  assert.match(obj(unsigned).error, /was not issued for build .*the upload was never signed/);
  // another project cannot see the build
  const foreign = await req(
    sim,
    'GET',
    `/platform/v1/organizations/org_other/projects/proj_other/sandbox-template-builds/${p.buildId as string}`,
    { token: 'tl_other_key' },
  );
  assert.equal(foreign.status, 404);

  const errs: Array<[(b: Record<string, unknown>) => void, RegExp]> = [
    [
      (b) => (b.snapshotUri = 's3://elsewhere/x.tlsnap'),
      /^snapshotUri 's3:\/\/elsewhere\/x.tlsnap' does not match the signed snapshot URI 's3:\/\/tl-sim-bucket\/dataplane\/.*' of build/,
    ],
    [(b) => (b.snapshotId = 'snapshot_other'), /^snapshotId 'snapshot_other' does not match the prepared snapshot/],
    [(b) => (b.rootfsNodeKind = 'diff'), /^rootfsNodeKind 'diff' does not match the prepared build \('base'\)$/],
    [
      (b) => (b.snapshotFormatVersion = 'content_addressed_streaming_v1'),
      /^snapshotFormatVersion 'content_addressed_streaming_v1' does not match the build's format/,
    ],
    [(b) => (b.snapshotSizeBytes = -1), /^field 'snapshotSizeBytes' must be a non-negative integer, got -1$/],
    [(b) => (b.snapshotSizeBytes = '1234'), /^field 'snapshotSizeBytes' must be a non-negative integer/],
    [(b) => (b.snapshotSizeBytes = (b.snapshotSizeBytes as number) + 1), /^snapshotSizeBytes \d+ does not match the uploaded snapshot/],
    [(b) => (b.rootfsFormat = 'cas-streaming'), /was prepared as a durable build; rootfsFormat 'cas-streaming' is not allowed/],
    [(b) => delete b.snapshotUri, /^missing required field 'snapshotUri'$/],
  ];
  for (const [mutate, re] of errs) {
    const r = await buildFlow(sim, { cas: false, name: 'durable-err', mutateComplete: mutate });
    assert.equal(r.complete!.status, 400, r.complete!.text);
    assert.match(obj(r.complete!).error, re);
    assert.equal(
      sim.state().builds.find((x) => x.buildId === r.buildId)!.status,
      'prepared',
      'a refused complete leaves the build prepared',
    );
  }

  const good = await buildFlow(sim, { cas: false, name: 'durable-ok' });
  assert.equal(good.complete!.status, 200);
  const tpl = obj(good.complete!);
  assert.equal(tpl.name, 'durable-ok');
  assert.equal(tpl.snapshotFormatVersion, 'durable_archive_v1');
  assert.equal(tpl.snapshotUri, good.signedUri);
  assert.equal(good.metadata!.snapshot_uri, good.signedUri, 'metadata snapshot_uri = the signed URI the spec carried');
  const poll = obj(await req(sim, 'GET', `${SCOPE}/sandbox-template-builds/${good.buildId}`));
  assert.deepEqual([poll.status, poll.template.id], ['completed', tpl.id]);
  const again = await req(sim, 'POST', `${SCOPE}/sandbox-template-builds/${good.buildId}/complete`, { json: {} });
  assert.deepEqual([again.status, obj(again).code], [409, 'CONFLICT']);
  // the legacy shape completes with the prepared URI
  const legacy = await startSimulator({ ...FAST, prepareShape: 'legacy' });
  try {
    const l = await buildFlow(legacy, { cas: false, name: 'legacy-ok' });
    assert.equal(l.complete!.status, 200, l.complete!.text);
    assert.equal(obj(l.complete!).snapshotUri, l.prepared.snapshotUri);
  } finally {
    await legacy.stop();
  }
  await up();
});

test('bad requests: unknown paths 404, wrong methods 405, malformed JSON 400, bad encoding; server stays up', async () => {
  const cases: Array<[string, string, number, string]> = [
    ['GET', '/nope', 404, 'NOT_FOUND'],
    ['GET', '/platform/v1/whatever', 404, 'NOT_FOUND'],
    ['PUT', `${SCOPE}/sandbox-template-builds`, 405, 'METHOD_NOT_ALLOWED'],
    ['PATCH', `${SCOPE}/sandbox-templates/x`, 405, 'METHOD_NOT_ALLOWED'],
    ['GET', `${SCOPE}/sandbox-template-builds/x/complete`, 405, 'METHOD_NOT_ALLOWED'],
    ['GET', '/platform/v1/organizations/%ZZ/projects/p/sandbox-templates', 400, 'INVALID_PATH'],
    ['DELETE', '/v1/namespaces/default/sandboxes', 405, 'METHOD_NOT_ALLOWED'],
  ];
  for (const [m, p, status, code] of cases) {
    const r = await req(sim, m, p);
    assert.deepEqual([r.status, obj(r).code], [status, code], `${m} ${p}: ${r.text}`);
    assert.equal(r.headers['content-type'], 'application/json');
  }
  const empty = await req(sim, 'POST', `${SCOPE}/sandbox-template-builds`, { raw: '' });
  assert.deepEqual([empty.status, obj(empty).error], [400, 'request body is empty; expected a JSON object']);
  const junk = await req(sim, 'POST', '/v1/namespaces/default/sandboxes', {
    raw: '{"image": "x",,}',
    headers: { 'content-type': 'application/json' },
  });
  const plain = await req(sim, 'POST', '/v1/namespaces/default/sandboxes', {
    raw: '{"image": "x"}',
    headers: { 'content-type': 'text/plain' },
  });
  assert.equal(plain.status, 415, 'JSON bodies must say so (§1.4)');
  assert.equal(junk.status, 400);
  assert.match(obj(junk).error, /^request body is not valid JSON/);
  const noImage = await req(sim, 'POST', '/v1/namespaces/default/sandboxes', { json: { resources: { cpus: 'two' } } });
  assert.deepEqual([noImage.status, obj(noImage).error], [400, "field 'image' is required and must be a non-empty string"]);
  const badRes = await req(sim, 'POST', '/v1/namespaces/default/sandboxes', { json: { image: 'x', resources: { cpus: 'two' } } });
  assert.deepEqual([badRes.status, obj(badRes).error], [400, 'resources.cpus must be a positive number']);
  await up();
});
