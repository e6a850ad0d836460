import { test } from '@jest/globals';
import { afterTest } from '../../after-test.js';
import assert from 'node:assert/strict';
import { json, harness, startServer } from './helpers.js';
import { TransportError } from '../../../src/platform/http-errors.js';

test('ordinary requests reuse one connection; SSE streams get their own', async () => {
  const sockets = new Set<unknown>();
  const srv = await startServer((req, res) => {
    sockets.add(req.socket);
    if (req.url === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"line":"x","timestamp":1}\n\n');
      return;
    }
    json(res, 200, { ok: true });
  });
  afterTest(() => srv.close());
  const h = harness();
  for (let i = 0; i < 5; i++) {
    const res = await h.transport.request({ method: 'GET', url: `${srv.url}/x${i}`, operation: 'read', retry: 'always' });
    assert.equal(res.status, 200);
  }
  assert.equal(sockets.size, 1, 'five sequential requests over one keep-alive connection');
  const s = await h.transport.stream({ method: 'GET', url: `${srv.url}/sse`, operation: 'follow', retry: 'always' });
  for await (const _ of s.body) void _;
  assert.equal(sockets.size, 2, 'the stream used a connection of its own');
  assert.equal(srv.requests.at(-2)?.headers.connection, 'keep-alive');
});

test('an unsafe POST never rides a reused socket (a dying reused socket would look like an ambiguous send)', async () => {
  const perSocket = new Map<unknown, number>();
  const srv = await startServer((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    // the server drops an idle keep-alive connection just as a client would reuse it
    if (n === 2) return req.socket.destroy();
    json(res, 200, { ok: true });
  });
  afterTest(() => srv.close());
  const h = harness();
  assert.equal((await h.transport.request({ method: 'GET', url: `${srv.url}/a`, operation: 'read', retry: 'always' })).status, 200);
  const res = await h.transport.request({ method: 'POST', url: `${srv.url}/prepare`, operation: 'prepare', retry: 'if-unsent', json: {} });
  assert.equal(res.status, 200, 'sent once, on a fresh connection');
  assert.equal(perSocket.size, 2);
  assert.equal(srv.requests.length, 2, 'no retry was needed');
});

test('a stream whose headers never come fails after the header timeout instead of hanging', async () => {
  const srv = await startServer(() => {
    /* accept the request, never answer */
  });
  afterTest(() => srv.close());
  const h = harness({ streamHeaderTimeoutMs: 150, retry: { maxAttempts: 2 } });
  const t0 = Date.now();
  await assert.rejects(
    h.transport.stream({ method: 'GET', url: `${srv.url}/follow`, operation: 'follow output', retry: 'always' }),
    (e: unknown) => {
      assert.ok(e instanceof TransportError, String(e));
      assert.match(e.message, /failed to follow output: no answer .*no response within 150ms/);
      return true;
    },
  );
  assert.ok(Date.now() - t0 < 5000, 'bounded');
});
