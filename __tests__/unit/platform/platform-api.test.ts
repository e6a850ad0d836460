import { test } from '@jest/globals';
import { afterTest } from '../../after-test.js';
import assert from 'node:assert/strict';
import { PlatformApi } from '../../../src/platform/platform-api.js';
import { registerUrlSecrets } from '../../../src/platform/url-secrets.js';
import { encodePathSegment } from '../../../src/platform/urls.js';
import type { CompleteRequest, PrepareRequest } from '../../../src/platform/types.js';
import { harness, json, rejects, startServer } from './helpers.js';

const SCOPE = { organizationId: 'org1', projectId: 'proj1' };
const BASE = '/platform/v1/organizations/org1/projects/proj1';

const prepareReq: PrepareRequest = {
  name: 'img',
  dockerfile: 'FROM python:3.12-slim\n',
  baseImage: 'python:3.12-slim',
  public: false,
  rootfsNodeKind: 'base',
  parentTemplate: null,
  additionalLocalImages: [],
};

const prepared = {
  buildId: 'b1',
  snapshotId: 'snap1',
  snapshotUri: 's3://bucket/snap1.tlsnap',
  rootfsNodeKind: 'base',
  builder: { image: 'builder:1', command: 'tl-rootfs-build', cpus: 2.0, memoryMb: 4096, diskMb: 20480 },
  upload: {
    kind: 'single_put',
    method: 'PUT',
    url: 'https://s3.example/up?X-Amz-Signature=deadbeefcafe',
    headers: { 'x-amz-security-token': 'TOKENVALUE123' },
  },
  runtimeContract: { guestRuntimeLayout: 'embedded' },
};

const completeReq: CompleteRequest = {
  snapshotId: 'snap1',
  snapshotUri: 's3://bucket/snap1.tlsnap',
  snapshotFormatVersion: 'durable_archive_v1',
  snapshotSizeBytes: 1234,
  rootfsDiskBytes: 10737418240,
  rootfsNodeKind: 'base',
};

test('encodePathSegment encodes every byte but A-Z a-z 0-9 - . _ ~', () => {
  assert.equal(encodePathSegment('tensorlake/python:3.12-slim'), 'tensorlake%2Fpython%3A3.12-slim');
  assert.equal(encodePathSegment("a!b'c(d)e*f"), 'a%21b%27c%28d%29e%2Af');
  assert.equal(encodePathSegment('x@sha256:ab ~_.-'), 'x%40sha256%3Aab%20~_.-');
  assert.equal(encodePathSegment('é'), '%C3%A9');
});

test('introspect: POST, empty body, no scope headers even when the transport has them', async () => {
  const srv = await startServer((_req, res) => json(res, 200, { id: 'key_1', organizationId: 'o', projectId: 'p' }));
  afterTest(() => srv.close());
  const h = harness({ scopeHeaders: SCOPE });
  const api = new PlatformApi(h.transport, `${srv.url}/`);
  assert.deepEqual(await api.introspect(), { id: 'key_1', organizationId: 'o', projectId: 'p' });
  const r = srv.requests[0];
  assert.equal(r.method, 'POST');
  assert.equal(r.url, '/platform/v1/keys/introspect');
  assert.equal(r.headers['content-length'], '0');
  assert.equal(r.headers['content-type'], undefined);
  assert.equal(r.headers['x-forwarded-organization-id'], undefined);
  assert.equal(r.headers['x-forwarded-project-id'], undefined);
  assert.match(String(r.headers.traceparent), /^00-/);
});

test('introspect: 401 → auth error with the contract text', async () => {
  const srv = await startServer((_req, res) => json(res, 401, '{"message":"invalid key"}'));
  afterTest(() => srv.close());
  const h = harness();
  const err = await rejects(new PlatformApi(h.transport, srv.url).introspect());
  assert.equal(err.kind, 'auth');
  assert.equal(err.message, 'API key introspection failed (HTTP 401 Unauthorized): {"message":"invalid key"}');
  assert.equal(srv.requests.length, 1);
});

test('introspect: a body without projectId → invalid response error', async () => {
  const srv = await startServer((_req, res) => json(res, 200, { organizationId: 'o' }));
  afterTest(() => srv.close());
  const err = await rejects(new PlatformApi(harness().transport, srv.url).introspect());
  assert.equal(err.kind, 'platform');
  assert.match(
    err.message,
    /^platform returned an invalid API key introspection response: projectId is missing \(introspect the API key: HTTP 200 OK; body: \{"organizationId":"o"\}\)$/,
  );
});

test('lookupTemplate: encoded by-name path, Accept json, scope headers, 404 → null', async () => {
  const srv = await startServer((req, res) =>
    req.url?.endsWith('python%3A3.12-slim') && !req.url.includes('%2F')
      ? json(res, 404, { error: 'not found' })
      : json(res, 200, { id: 't1', name: 'n', snapshotId: 's', public: true, extra: 1 }),
  );
  afterTest(() => srv.close());
  const h = harness({ scopeHeaders: SCOPE });
  const api = new PlatformApi(h.transport, srv.url);
  api.setScope(SCOPE);
  assert.equal(await api.lookupTemplate('python:3.12-slim'), null);
  const tpl = await api.lookupTemplate('tensorlake/python:3.12-slim');
  assert.deepEqual(tpl, { id: 't1', name: 'n', snapshotId: 's', public: true, extra: 1 });
  assert.equal(srv.requests[1].url, `${BASE}/sandbox-templates/by-name/tensorlake%2Fpython%3A3.12-slim`);
  assert.equal(srv.requests[1].headers.accept, 'application/json');
  assert.equal(srv.requests[1].headers['x-forwarded-organization-id'], 'org1');
  assert.equal(srv.requests.length, 2, '404 is not retried');
});

test("lookupTemplate: ! ' ( ) * are percent-encoded on the wire", async () => {
  const srv = await startServer((_req, res) => json(res, 404, {}));
  afterTest(() => srv.close());
  const api = new PlatformApi(harness().transport, srv.url);
  api.setScope(SCOPE);
  await api.lookupTemplate("we!rd'(name)*");
  assert.equal(srv.requests[0].url, `${BASE}/sandbox-templates/by-name/we%21rd%27%28name%29%2A`);
});

test('lookupTemplate: wrong field type → clear error; 403 → auth error', async () => {
  let mode = 'types';
  const srv = await startServer((_req, res) => (mode === 'types' ? json(res, 200, { id: 5 }) : json(res, 403, 'forbidden')));
  afterTest(() => srv.close());
  const api = new PlatformApi(harness().transport, srv.url);
  api.setScope(SCOPE);
  const e1 = await rejects(api.lookupTemplate('x'));
  assert.match(
    e1.message,
    /^platform returned an invalid template lookup response: id must be a string, got a number \(5\) \(look up template 'x': HTTP 200 OK/,
  );
  mode = 'forbidden';
  const e2 = await rejects(api.lookupTemplate('x'));
  assert.equal(e2.kind, 'auth');
  assert.equal(e2.httpStatus, 403);
  assert.match(e2.message, /^failed to look up template 'x' \(HTTP 403 Forbidden\): "?forbidden/);
});

test('prepare: JSON body, validated answer, raw kept, signed upload URL registered as secret', async () => {
  const srv = await startServer((_req, res) => json(res, 200, prepared));
  afterTest(() => srv.close());
  const h = harness();
  const api = new PlatformApi(h.transport, srv.url);
  api.setScope(SCOPE);
  const p = await api.prepare(prepareReq);
  assert.equal(srv.requests[0].url, `${BASE}/sandbox-template-builds`);
  assert.equal(srv.requests[0].headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(srv.requests[0].body.toString()), prepareReq);
  assert.equal(p.buildId, 'b1');
  assert.deepEqual(p.builder, prepared.builder);
  assert.equal(p.parent, null);
  assert.equal(p.snapshotUri, 's3://bucket/snap1.tlsnap');
  assert.deepEqual(p.raw, prepared);
  assert.ok(h.secrets.has(prepared.upload.url), 'h.secrets.has(prepared.upload.url)');
  assert.ok(h.secrets.has('TOKENVALUE123'), "h.secrets.has('TOKENVALUE123')");
  assert.ok(!h.secrets.has('s3://bucket/snap1.tlsnap'), 'plain storage URIs are not secrets');
});

test('prepare: non-2xx → contract error text; a 500 is retried like a read (prepare allocates nothing a retry could leak)', async () => {
  const srv = await startServer((_req, res) => json(res, 500, { error: 'db down' }));
  afterTest(() => srv.close());
  const api = new PlatformApi(harness().transport, srv.url);
  api.setScope(SCOPE);
  const err = await rejects(api.prepare(prepareReq));
  assert.equal(err.message, 'failed to prepare sandbox image build (HTTP 500 Internal Server Error): {"error":"db down"}');
  assert.equal(err.kind, 'platform');
  assert.equal(err.httpStatus, 500);
  assert.equal(srv.requests.length, 6, 'every attempt of the policy');
});

for (const [name, status, body, expect] of [
  [
    'malformed JSON',
    200,
    '{"buildId": "b1",',
    /platform returned an invalid prepare response: body is not valid JSON \(.*\) \(prepare sandbox image build: HTTP 200 OK; body: \{"buildId": "b1",\)/,
  ],
  [
    'an HTML page',
    200,
    '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>',
    /body is an HTML page, not JSON \(prepare sandbox image build: HTTP 200 OK; body: HTML page: 502 Bad Gateway\)/,
  ],
  [
    'an empty 2xx',
    201,
    '',
    /platform returned an invalid prepare response: body is empty \(expected JSON\) \(prepare sandbox image build: HTTP 201 Created\)$/,
  ],
  ['a JSON array', 200, '[1,2]', /body must be a JSON object, got an array/],
  [
    'a missing field',
    200,
    JSON.stringify({ ...prepared, builder: { ...prepared.builder, command: undefined } }),
    /platform returned an invalid prepare response: builder.command is missing/,
  ],
  [
    'a wrong type',
    200,
    JSON.stringify({ ...prepared, builder: { ...prepared.builder, cpus: '2' } }),
    /platform returned an invalid prepare response: builder.cpus must be a number, got a string \(1 character\)/,
  ],
  [
    'a non-integer memoryMb',
    200,
    JSON.stringify({ ...prepared, builder: { ...prepared.builder, memoryMb: 1.5 } }),
    /builder.memoryMb must be an integer/,
  ],
  [
    'a parent without manifest',
    200,
    JSON.stringify({ ...prepared, parent: { rootfsDiskBytes: 5 } }),
    /parent.parentManifestUri is missing/,
  ],
  [
    'an HTML error page on 502',
    502,
    '<html><body><h1>Bad Gateway</h1></body></html>',
    /^failed to prepare sandbox image build \(HTTP 502 Bad Gateway\): HTML page: Bad Gateway$/,
  ],
] as const) {
  test(`prepare: ${name} → clear error naming operation and status, never a crash`, async () => {
    const srv = await startServer((_req, res) => {
      res.writeHead(status, { 'content-type': body.startsWith('<') ? 'text/html' : 'application/json' });
      res.end(body);
    });
    afterTest(() => srv.close());
    const api = new PlatformApi(harness().transport, srv.url);
    api.setScope(SCOPE);
    const err = await rejects(api.prepare(prepareReq));
    assert.equal(
      err.constructor.name === 'TypeError' || err.constructor.name === 'SyntaxError',
      false,
      `crashed with ${err.constructor.name}`,
    );
    assert.equal(err.kind, 'platform');
    assert.equal(err.httpStatus, status);
    assert.match(err.message, expect);
  });
}

test('error excerpts are redacted and short', async () => {
  const secret = 'https://s3.example/obj?X-Amz-Signature=0123456789abcdef';
  const srv = await startServer((_req, res) => json(res, 400, `bad request for ${secret} ${'x'.repeat(2000)}`));
  afterTest(() => srv.close());
  const h = harness();
  h.secrets.add(secret);
  const api = new PlatformApi(h.transport, srv.url);
  api.setScope(SCOPE);
  const err = await rejects(api.prepare(prepareReq));
  assert.ok(!err.message.includes('0123456789abcdef'), "!err.message.includes('0123456789abcdef')");
  assert.ok(err.message.length < 450, `length ${err.message.length}`);
});

test('complete: 200 template and 202 ingesting are returned with their status', async () => {
  let answer: [number, unknown] = [200, { id: 'tpl_1', name: 'img' }];
  const srv = await startServer((_req, res) => json(res, answer[0], answer[1]));
  afterTest(() => srv.close());
  const api = new PlatformApi(harness().transport, srv.url);
  api.setScope(SCOPE);
  assert.deepEqual(await api.complete('b1', completeReq), { httpStatus: 200, body: { id: 'tpl_1', name: 'img' } });
  assert.equal(srv.requests[0].url, `${BASE}/sandbox-template-builds/b1/complete`);
  assert.deepEqual(JSON.parse(srv.requests[0].body.toString()), completeReq);
  answer = [202, { status: 'ingesting' }];
  assert.deepEqual(await api.complete('b1', { ...completeReq, rootfsFormat: 'cas-streaming' }), {
    httpStatus: 202,
    body: { status: 'ingesting' },
  });
  answer = [202, ''];
  const err = await rejects(api.complete('b1', completeReq));
  assert.match(err.message, /invalid complete response: body is empty .*HTTP 202 Accepted/);
});

test('complete: reset after the server processed it → build read → not re-sent', async () => {
  let state = 'prepared';
  const srv = await startServer((req, res) => {
    if (req.method === 'POST') {
      state = 'completed';
      req.socket.destroy(); // processed, but the answer is lost
      return;
    }
    json(res, 200, { status: state, template: { id: 'tpl_9', name: 'img' } });
  });
  afterTest(() => srv.close());
  const api = new PlatformApi(harness().transport, srv.url);
  api.setScope(SCOPE);
  const r = await api.complete('b1', completeReq);
  assert.deepEqual(r, { httpStatus: 200, body: { id: 'tpl_9', name: 'img' } });
  assert.deepEqual(
    srv.requests.map((x) => `${x.method} ${x.url}`),
    [`POST ${BASE}/sandbox-template-builds/b1/complete`, `GET ${BASE}/sandbox-template-builds/b1`],
  );
});

test('complete: 502 while ingesting → 202 ingesting, not re-sent', async () => {
  const srv = await startServer((req, res) =>
    req.method === 'POST' ? json(res, 502, 'bad gateway') : json(res, 200, { status: 'ingesting' }),
  );
  afterTest(() => srv.close());
  const api = new PlatformApi(harness().transport, srv.url);
  api.setScope(SCOPE);
  assert.deepEqual(await api.complete('b1', { ...completeReq, rootfsFormat: 'cas-streaming' }), {
    httpStatus: 202,
    body: { status: 'ingesting' },
  });
  assert.equal(srv.requests.filter((r) => r.method === 'POST').length, 1);
});

test('complete: ambiguous and still prepared → sent again', async () => {
  let posts = 0;
  const srv = await startServer((req, res) => {
    if (req.method === 'POST') {
      posts++;
      if (posts === 1) return json(res, 503, 'overloaded'); // no Retry-After: ambiguous
      return json(res, 200, { id: 'tpl_2' });
    }
    json(res, 200, { status: 'prepared' });
  });
  afterTest(() => srv.close());
  const h = harness();
  const api = new PlatformApi(h.transport, srv.url);
  api.setScope(SCOPE);
  assert.deepEqual(await api.complete('b1', completeReq), { httpStatus: 200, body: { id: 'tpl_2' } });
  assert.equal(posts, 2);
  assert.equal(h.sleeps.length, 1);
});

test('complete: 422 is terminal, no reconciliation', async () => {
  const srv = await startServer((_req, res) => json(res, 422, { error: 'snapshotUri mismatch' }));
  afterTest(() => srv.close());
  const api = new PlatformApi(harness().transport, srv.url);
  api.setScope(SCOPE);
  const err = await rejects(api.complete('b1', completeReq));
  assert.equal(err.message, 'failed to complete sandbox image build (HTTP 422 Unprocessable Entity): {"error":"snapshotUri mismatch"}');
  assert.equal(srv.requests.length, 1);
});

test('getBuild: retried on 503, validated, error text on 404', async () => {
  let n = 0;
  const srv = await startServer((_req, res) => {
    n++;
    if (n === 1) return json(res, 503, 'x');
    if (n === 2) return json(res, 200, { status: 'failed', error: 'corrupt chunk' });
    if (n === 3) return json(res, 200, { status: 7 });
    json(res, 404, { error: 'no such build' });
  });
  afterTest(() => srv.close());
  const api = new PlatformApi(harness().transport, srv.url);
  api.setScope(SCOPE);
  const st = await api.getBuild('b1');
  assert.equal(st.status, 'failed');
  assert.equal(st.error, 'corrupt chunk');
  const e1 = await rejects(api.getBuild('b1'));
  assert.match(e1.message, /invalid build status response: status must be a string/);
  const e2 = await rejects(api.getBuild('b1'));
  assert.equal(e2.message, 'failed to poll sandbox image build (HTTP 404 Not Found): {"error":"no such build"}');
});

test('registerUrlSecrets: signed URLs and their query strings, token-named values, not plain URIs', () => {
  const seen: string[] = [];
  registerUrlSecrets(
    {
      uri: 's3://b/final.tlsnap',
      partUrls: ['https://s3/p1?X-Amz-Signature=aaaa1111', 'https://s3/p2?X-Amz-Signature=bbbb2222'],
      sessionToken: 'tok-abcdef',
      nested: [{ u: 'https://user:pw@host/x' }],
    },
    { add: (v) => void (v && seen.push(v)) },
  );
  assert.ok(seen.includes('https://s3/p1?X-Amz-Signature=aaaa1111'), "seen.includes('https://s3/p1?X-Amz-Signature=aaaa1111')");
  assert.ok(seen.includes('X-Amz-Signature=bbbb2222'), "seen.includes('X-Amz-Signature=bbbb2222')");
  assert.ok(seen.includes('tok-abcdef'), "seen.includes('tok-abcdef')");
  assert.ok(seen.includes('https://user:pw@host/x'), "seen.includes('https://user:pw@host/x')");
  assert.ok(!seen.includes('s3://b/final.tlsnap'), "!seen.includes('s3://b/final.tlsnap')");
});

test('complete: a 409 while the build is still prepared is not sent again (the platform refused it, it did not lose it)', async () => {
  let posts = 0;
  const srv = await startServer((req, res) => {
    if (req.method === 'POST') {
      posts++;
      return posts === 1 ? json(res, 409, { error: 'build is being completed' }) : json(res, 200, { id: 'tpl_2' });
    }
    json(res, 200, { status: 'prepared' });
  });
  afterTest(() => srv.close());
  const h = harness();
  const api = new PlatformApi(h.transport, srv.url);
  api.setScope(SCOPE);
  const err = await rejects(api.complete('b1', completeReq));
  assert.equal(err.httpStatus, 409);
  assert.match(err.message, /^failed to complete sandbox image build \(HTTP 409 Conflict\)/);
  assert.equal(posts, 1);
  assert.equal(srv.requests.filter((r) => r.method === 'GET').length, 1, 'the build was read once to reconcile');
});
