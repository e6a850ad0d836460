import test from 'node:test';
import assert from 'node:assert/strict';
import { json, harness, startServer } from './helpers.js';

test('ordinary requests reuse one connection; SSE streams get their own', async (t) => {
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
  t.after(() => srv.close());
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
