import { test } from '@jest/globals';
import { afterTest } from '../../after-test.js';
import assert from 'node:assert/strict';
import { LifecycleApi, resolveLifecycle } from '../../../src/platform/lifecycle-api.js';
import type { SandboxCreateRequest } from '../../../src/platform/types.js';
import { harness, json, rejects, startServer } from './helpers.js';

const createReq: SandboxCreateRequest = {
  image: 'builder:1',
  resources: { cpus: 2, memory_mb: 4096, disk_mb: 20480 },
  timeout_secs: 300,
  name: 'sbx-image-b1',
};
const info = (id: string, name?: string, status = 'running') => ({
  sandbox_id: id,
  namespace: 'default',
  status,
  resources: { cpus: 2, memory_mb: 4096, ephemeral_disk_mb: 0 },
  ...(name ? { name } : {}),
  sandbox_url: `https://${id}.sandbox.example`,
});

test('resolveLifecycle follows §1.5', () => {
  assert.deepEqual(resolveLifecycle('https://api.tensorlake.ai'), { baseUrl: 'https://sandbox.tensorlake.ai', namespaced: false });
  assert.deepEqual(resolveLifecycle('https://api.tensorlake.dev:8443/x/'), {
    baseUrl: 'https://sandbox.tensorlake.dev',
    namespaced: false,
  });
  assert.deepEqual(resolveLifecycle('http://localhost:8900/'), {
    baseUrl: 'http://localhost:8900/v1/namespaces/default',
    namespaced: true,
  });
  assert.deepEqual(resolveLifecycle('http://127.0.0.1:8900/base', 'ns1'), {
    baseUrl: 'http://127.0.0.1:8900/base/v1/namespaces/ns1',
    namespaced: true,
  });
  assert.deepEqual(resolveLifecycle('https://platform.example.com'), { baseUrl: 'https://sandbox.tensorlake.ai', namespaced: false });
  assert.deepEqual(resolveLifecycle('http://[::1]:8900'), { baseUrl: 'https://sandbox.tensorlake.ai', namespaced: false });
  assert.deepEqual(resolveLifecycle('::not a url::'), { baseUrl: 'https://sandbox.tensorlake.ai', namespaced: false });
});

test('createSandbox: namespaced POST with snake_case body; 2xx decoded', async () => {
  const srv = await startServer((_req, res) =>
    json(res, 201, { sandbox_id: 'sbx1', status: 'pending', sandbox_url: 'http://127.0.0.1:1', routing_hint: 'rh' }),
  );
  afterTest(() => srv.close());
  const api = new LifecycleApi(harness().transport, srv.url);
  const c = await api.createSandbox(createReq);
  assert.deepEqual(c, { sandbox_id: 'sbx1', status: 'pending', sandbox_url: 'http://127.0.0.1:1', routing_hint: 'rh' });
  assert.equal(srv.requests[0].url, '/v1/namespaces/default/sandboxes');
  assert.deepEqual(JSON.parse(srv.requests[0].body.toString()), createReq);
});

test('createSandbox: a 504 with a decodable body is success', async () => {
  const srv = await startServer((_req, res) => json(res, 504, { sandbox_id: 'sbx2', status: 'pending' }));
  afterTest(() => srv.close());
  const api = new LifecycleApi(harness().transport, srv.url);
  assert.equal((await api.createSandbox(createReq)).sandbox_id, 'sbx2');
  assert.equal(srv.requests.length, 1);
});

test('createSandbox: ambiguous failure (reset after the server created it) → found by name, no second sandbox', async () => {
  const sandboxes: ReturnType<typeof info>[] = [];
  const srv = await startServer((req, res, body) => {
    if (req.method === 'POST') {
      const b = JSON.parse(body.toString()) as { name: string };
      sandboxes.push(info(`sbx${sandboxes.length + 1}`, b.name, 'pending'));
      req.socket.destroy();
      return;
    }
    json(res, 200, { sandboxes: [info('other', 'someone-else'), ...sandboxes] });
  });
  afterTest(() => srv.close());
  const api = new LifecycleApi(harness().transport, srv.url);
  const c = await api.createSandbox(createReq);
  assert.equal(c.sandbox_id, 'sbx1');
  assert.equal(c.name, 'sbx-image-b1');
  assert.equal(c.sandbox_url, 'https://sbx1.sandbox.example');
  assert.equal(sandboxes.length, 1, 'no second sandbox');
  assert.equal(srv.requests.filter((r) => r.method === 'POST').length, 1);
});

test('createSandbox: ambiguous 502 and nothing by that name → created again; a late duplicate is deleted', async () => {
  const sandboxes: ReturnType<typeof info>[] = [];
  let posts = 0;
  let lists = 0;
  const deleted: string[] = [];
  const srv = await startServer((req, res) => {
    if (req.method === 'POST') {
      posts++;
      if (posts === 1) return json(res, 502, 'bad gateway'); // the first create lands later
      sandboxes.push(info('sbx2', 'sbx-image-b1'));
      return json(res, 200, { sandbox_id: 'sbx2', status: 'pending' });
    }
    if (req.method === 'DELETE') {
      deleted.push(req.url ?? '');
      return json(res, 200, {});
    }
    lists++;
    if (lists === 2) sandboxes.push(info('sbx1', 'sbx-image-b1')); // the late one shows up
    json(res, 200, { sandboxes });
  });
  afterTest(() => srv.close());
  const h = harness();
  const api = new LifecycleApi(h.transport, srv.url);
  const c = await api.createSandbox(createReq);
  assert.equal(c.sandbox_id, 'sbx2');
  assert.equal(posts, 2);
  assert.deepEqual(deleted, ['/v1/namespaces/default/sandboxes/sbx1']);
});

test('createSandbox: terminal 400 fails at once with the status; without a name ambiguity is not reconciled', async () => {
  const srv = await startServer((_req, res) => json(res, 400, { error: 'bad image' }));
  afterTest(() => srv.close());
  const api = new LifecycleApi(harness().transport, srv.url);
  const err = await rejects(api.createSandbox(createReq));
  assert.equal(err.message, 'failed to create builder sandbox (HTTP 400 Bad Request): {"error":"bad image"}');
  assert.equal(srv.requests.length, 1);
  const srv2 = await startServer((_req, res) => json(res, 500, 'boom'));
  afterTest(() => srv2.close());
  const api2 = new LifecycleApi(harness().transport, srv2.url);
  const err2 = await rejects(api2.createSandbox({ ...createReq, name: undefined }));
  assert.equal(err2.httpStatus, 500);
  assert.equal(srv2.requests.length, 1);
});

test('createSandbox: invalid 2xx body → clear error', async () => {
  const srv = await startServer((_req, res) => json(res, 200, { id: 'x' }));
  afterTest(() => srv.close());
  const err = await rejects(new LifecycleApi(harness().transport, srv.url).createSandbox(createReq));
  assert.match(
    err.message,
    /^platform returned an invalid sandbox create response: sandbox_id is missing \(create builder sandbox: HTTP 200 OK/,
  );
});

test('getSandbox: accepts the id alias, keeps routing hint and url; retried on 503', async () => {
  let n = 0;
  const srv = await startServer((_req, res) =>
    ++n === 1
      ? json(res, 503, '')
      : json(res, 200, {
          id: 'sbx1',
          namespace: 'default',
          status: 'running',
          routing_hint: 'rh',
          sandbox_url: 'https://u',
          resources: { cpus: 1.5, memory_mb: 1024 },
        }),
  );
  afterTest(() => srv.close());
  const s = await new LifecycleApi(harness().transport, srv.url).getSandbox('sbx1');
  assert.equal(s.sandbox_id, 'sbx1');
  assert.equal(s.routing_hint, 'rh');
  assert.equal(s.sandbox_url, 'https://u');
  assert.equal(srv.requests.length, 2);
  assert.equal(srv.requests.at(-1)?.url, '/v1/namespaces/default/sandboxes/sbx1');
});

test('getSandbox: errors keep status and body for §5.4 classification', async () => {
  const srv = await startServer((_req, res) => json(res, 400, 'sandbox not running yet'));
  afterTest(() => srv.close());
  const err = await rejects(new LifecycleApi(harness().transport, srv.url).getSandbox('sbx1'));
  assert.equal(err.httpStatus, 400);
  assert.match(err.message, /not running/);
});

test('deleteSandbox: 2xx and 404 are fine; 500 retried then error', async () => {
  let status = 204;
  const srv = await startServer((_req, res) => {
    res.statusCode = status;
    res.end();
  });
  afterTest(() => srv.close());
  const h = harness({ retry: { maxAttempts: 3 } });
  const api = new LifecycleApi(h.transport, srv.url);
  await api.deleteSandbox('sbx1');
  status = 404;
  await api.deleteSandbox('sbx1');
  status = 500;
  const err = await rejects(api.deleteSandbox('sbx1'));
  assert.match(err.message, /^failed to delete builder sandbox sbx1 \(HTTP 500 Internal Server Error\)/);
  assert.equal(srv.requests.length, 5);
  assert.equal(srv.requests[0].method, 'DELETE');
});

test('listSandboxes: validates entries', async () => {
  const srv = await startServer((_req, res) => json(res, 200, { sandboxes: [info('a'), { status: 'running' }] }));
  afterTest(() => srv.close());
  const err = await rejects(new LifecycleApi(harness().transport, srv.url).listSandboxes());
  assert.match(err.message, /invalid sandbox list response: sandboxes\[1\]\.sandbox_id is missing/);
});
