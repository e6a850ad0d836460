import { test } from '@jest/globals';
import { afterTest } from '../../after-test.js';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpStatusError, TransportError } from '../../../src/platform/http-errors.js';
import { isTransientError } from '../../../src/platform/transient.js';
import { loggablePath } from '../../../src/platform/urls.js';
import { USER_AGENT as DEFAULT_USER_AGENT } from '../../../src/version.js';
import { freePort, harness, json, rejects, startServer, TOKEN } from './helpers.js';

test('429 with Retry-After in seconds is honoured, then success', async () => {
  const srv = await startServer((_req, res, _b, n) =>
    n < 3 ? json(res, 429, { error: 'slow down' }, { 'retry-after': '7' }) : json(res, 200, { ok: true }),
  );
  afterTest(() => srv.close());
  const h = harness();
  const res = await h.transport.request({ method: 'GET', url: `${srv.url}/x`, operation: 'read x', retry: 'always' });
  assert.equal(res.status, 200);
  assert.equal(srv.requests.length, 3);
  assert.deepEqual(h.sleeps, [7000, 7000]);
});

test('429 with Retry-After as an HTTP-date is honoured (above the per-wait cap, within the total)', async () => {
  const srv = await startServer((_req, res, _b, n) =>
    n === 1 ? json(res, 429, 'no', { 'retry-after': new Date(Date.now() + 30_000).toUTCString() }) : json(res, 200, {}),
  );
  afterTest(() => srv.close());
  const h = harness();
  const res = await h.transport.request({ method: 'POST', url: `${srv.url}/p`, operation: 'prepare', retry: 'if-unsent', json: {} });
  assert.equal(res.status, 200);
  assert.equal(h.sleeps.length, 1);
  assert.ok(h.sleeps[0] > 25_000 && h.sleeps[0] <= 30_000, `slept ${h.sleeps[0]}`);
});

test('Retry-After longer than the remaining total time: no retry, the 429 is returned', async () => {
  const srv = await startServer((_req, res) => json(res, 429, 'no', { 'retry-after': '3600' }));
  afterTest(() => srv.close());
  const h = harness();
  const res = await h.transport.request({ method: 'GET', url: `${srv.url}/x`, operation: 'read x', retry: 'always' });
  assert.equal(res.status, 429);
  assert.equal(srv.requests.length, 1);
  assert.deepEqual(h.sleeps, []);
});

test('502/503 bursts then success; backoff grows with full jitter', async () => {
  const srv = await startServer((_req, res, _b, n) =>
    n <= 4 ? json(res, n % 2 ? 502 : 503, '<html><body>Bad gateway</body></html>') : json(res, 200, { ok: 1 }),
  );
  afterTest(() => srv.close());
  const retries: number[] = [];
  const h = harness({ onRetry: (i) => retries.push(i.attempt) });
  const res = await h.transport.request({ method: 'GET', url: `${srv.url}/x`, operation: 'read x', retry: 'always' });
  assert.equal(res.status, 200);
  assert.equal(srv.requests.length, 5);
  // random() = 0.5 → half of the window 500·2^(n-1)
  assert.deepEqual(h.sleeps, [250, 500, 1000, 2000]);
  assert.deepEqual(retries, [1, 2, 3, 4]);
});

test('gives up after maxAttempts and returns the last 503', async () => {
  const srv = await startServer((_req, res) => json(res, 503, 'down'));
  afterTest(() => srv.close());
  const h = harness({ retry: { maxAttempts: 3 } });
  const res = await h.transport.request({ method: 'GET', url: `${srv.url}/x`, operation: 'read x', retry: 'always' });
  assert.equal(res.status, 503);
  assert.equal(srv.requests.length, 3);
});

test('total-time cap stops retrying even with attempts left', async () => {
  const srv = await startServer((_req, res) => json(res, 502, 'bad'));
  afterTest(() => srv.close());
  const h = harness({ retry: { maxAttempts: 100, baseDelayMs: 10_000, maxDelayMs: 10_000, maxElapsedMs: 25_000 }, random: () => 1 });
  const res = await h.transport.request({ method: 'GET', url: `${srv.url}/x`, operation: 'read x', retry: 'always' });
  assert.equal(res.status, 502);
  // waits of 10 s each: 10 + 10 = 20 ≤ 25, a third would reach 30 > 25
  assert.deepEqual(h.sleeps, [10_000, 10_000]);
  assert.equal(srv.requests.length, 3);
});

test('network reset on a GET is retried', async () => {
  const srv = await startServer((req, res, _b, n) => {
    if (n === 1) req.socket.destroy();
    else json(res, 200, { ok: true });
  });
  afterTest(() => srv.close());
  const h = harness();
  const res = await h.transport.request({ method: 'GET', url: `${srv.url}/x`, operation: 'read x', retry: 'always' });
  assert.equal(res.status, 200);
  assert.equal(srv.requests.length, 2);
  assert.equal(h.sleeps.length, 1);
});

test("POST 'if-unsent' is not retried once the server received it (reset after reading)", async () => {
  const srv = await startServer((req) => req.socket.destroy());
  afterTest(() => srv.close());
  const h = harness();
  const err = await rejects(
    h.transport.request({
      method: 'POST',
      url: `${srv.url}/builds`,
      operation: 'prepare sandbox image build',
      retry: 'if-unsent',
      json: { a: 1 },
    }),
  );
  assert.ok(err instanceof TransportError, String(err));
  assert.equal(err.kind, 'transport');
  assert.equal((err as TransportError).unsent, false);
  assert.match(err.message, /^failed to prepare sandbox image build: no answer from 127\.0\.0\.1:\d+/);
  assert.equal(srv.requests.length, 1);
  assert.deepEqual(h.sleeps, []);
});

test("POST 'if-unsent' is not retried on 502/504 (ambiguous) but is on 429 and 503+Retry-After", async () => {
  const statuses = [502];
  const srv = await startServer((_req, res) => json(res, statuses.shift() ?? 200, 'x'));
  afterTest(() => srv.close());
  const h = harness();
  const spec = { method: 'POST' as const, url: `${srv.url}/p`, operation: 'op', retry: 'if-unsent' as const, json: {} };
  assert.equal((await h.transport.request(spec)).status, 502);
  statuses.push(503);
  assert.equal((await h.transport.request(spec)).status, 503, '503 without Retry-After is ambiguous');
  const srv2 = await startServer((_req, res, _b, n) =>
    n === 1 ? json(res, 429, 'x') : n === 2 ? json(res, 503, 'x', { 'retry-after': '1' }) : json(res, 201, {}),
  );
  afterTest(() => srv2.close());
  assert.equal((await h.transport.request({ ...spec, url: `${srv2.url}/p` })).status, 201);
  assert.equal(srv2.requests.length, 3);
});

test("POST 'if-unsent' is retried on connection refused (the request never left)", async () => {
  const port = await freePort();
  let srv: Awaited<ReturnType<typeof startServer>> | undefined;
  afterTest(() => srv?.close());
  const h = harness({
    sleep: async () => {
      // the server comes up during the first backoff
      srv ??= await startServer((_req, res) => json(res, 200, { ok: true }), port);
    },
  });
  const res = await h.transport.request({
    method: 'POST',
    url: `http://127.0.0.1:${port}/p`,
    operation: 'prepare',
    retry: 'if-unsent',
    json: {},
  });
  assert.equal(res.status, 200);
  assert.equal(srv?.requests.length, 1);
});

test("'never' makes exactly one attempt; refused connection gives a transport error", async () => {
  const port = await freePort();
  const h = harness();
  const err = await rejects(h.transport.request({ method: 'GET', url: `http://127.0.0.1:${port}/x`, operation: 'read x', retry: 'never' }));
  assert.ok(err instanceof TransportError, 'err instanceof TransportError');
  assert.equal((err as TransportError).unsent, true);
  assert.match(err.message, /ECONNREFUSED/);
  assert.deepEqual(h.sleeps, []);
});

test('terminal 4xx statuses are never retried, whatever the mode', async () => {
  for (const status of [400, 401, 403, 404, 409, 422]) {
    const srv = await startServer((_req, res) => json(res, status, { error: 'no' }, { 'retry-after': '1' }));
    afterTest(() => srv.close());
    const h = harness();
    const res = await h.transport.request({ method: 'GET', url: `${srv.url}/x`, operation: 'read x', retry: 'always' });
    assert.equal(res.status, status);
    assert.equal(srv.requests.length, 1, `status ${status}`);
  }
});

test('common headers: bearer, user agent, fresh traceparent, content-type on JSON, Content-Length 0 on empty POST', async () => {
  const srv = await startServer((_req, res) => json(res, 200, {}));
  afterTest(() => srv.close());
  const h = harness();
  await h.transport.request({ method: 'POST', url: `${srv.url}/a`, operation: 'a', retry: 'never', json: { x: 1 } });
  await h.transport.request({ method: 'POST', url: `${srv.url}/b`, operation: 'b', retry: 'never' });
  await h.transport.request({ method: 'GET', url: `${srv.url}/c`, operation: 'c', retry: 'never' });
  const [a, b, c] = srv.requests;
  assert.equal(a.headers.authorization, `Bearer ${TOKEN}`);
  assert.equal(a.headers['user-agent']?.startsWith(DEFAULT_USER_AGENT), true);
  assert.match(DEFAULT_USER_AGENT, /^sbx-image-action\/\d+\.\d+\.\d+/);
  assert.equal(a.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(a.body.toString()), { x: 1 });
  assert.equal(b.headers['content-length'], '0');
  assert.equal(b.headers['content-type'], undefined);
  assert.equal(c.headers['content-type'], undefined);
  const tps = srv.requests.map((r) => String(r.headers.traceparent));
  for (const tp of tps) assert.match(tp, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(new Set(tps).size, 3, 'fresh per request');
  for (const r of srv.requests) {
    assert.equal(r.headers['x-forwarded-organization-id'], undefined);
    assert.equal(r.headers['x-forwarded-project-id'], undefined);
  }
});

test('scope headers on every request unless the request opts out; custom user agent', async () => {
  const srv = await startServer((_req, res) => json(res, 200, {}));
  afterTest(() => srv.close());
  const h = harness({ scopeHeaders: { organizationId: 'org1', projectId: 'proj1' }, userAgent: 'custom/1' });
  await h.transport.request({ method: 'GET', url: `${srv.url}/a`, operation: 'a', retry: 'never' });
  await h.transport.request({ method: 'POST', url: `${srv.url}/b`, operation: 'b', retry: 'never', scopeHeaders: false });
  assert.equal(srv.requests[0].headers['x-forwarded-organization-id'], 'org1');
  assert.equal(srv.requests[0].headers['x-forwarded-project-id'], 'proj1');
  assert.equal(srv.requests[0].headers['user-agent']?.startsWith('custom/1'), true);
  assert.equal(srv.requests[1].headers['x-forwarded-organization-id'], undefined);
  assert.equal(srv.requests[1].headers['x-forwarded-project-id'], undefined);
});

test('the Host override header actually goes out on the wire', async () => {
  const srv = await startServer((_req, res) => json(res, 200, {}));
  afterTest(() => srv.close());
  const h = harness();
  await h.transport.request({
    method: 'GET',
    url: `${srv.url}/api/v1/health`,
    operation: 'h',
    retry: 'never',
    headers: { Host: 'sbx-123.local' },
  });
  const raw = srv.requests[0].rawHeaders;
  const hosts = raw.filter((_v, i) => i % 2 === 0 && raw[i].toLowerCase() === 'host').length;
  assert.equal(hosts, 1, 'exactly one Host header');
  assert.equal(srv.requests[0].headers.host, 'sbx-123.local');
});

test('stream bodies: explicit Content-Length, progress, reopened on retry', async () => {
  const srv = await startServer((_req, res, _b, n) => (n === 1 ? json(res, 503, 'busy') : json(res, 200, {})));
  afterTest(() => srv.close());
  const h = harness();
  const payload = Buffer.alloc(200_000, 7);
  let opens = 0;
  const progress: number[] = [];
  const res = await h.transport.request({
    method: 'PUT',
    url: `${srv.url}/api/v1/files?path=%2Fa`,
    operation: 'upload',
    retry: 'always',
    body: {
      open: () => {
        opens++;
        return Readable.from([payload.subarray(0, 100_000), payload.subarray(100_000)]);
      },
      length: payload.length,
      onProgress: (sent) => progress.push(sent),
    },
  });
  assert.equal(res.status, 200);
  assert.equal(opens, 2);
  assert.equal(srv.requests[1].headers['content-length'], String(payload.length));
  assert.equal(srv.requests[1].headers['transfer-encoding'], undefined);
  assert.ok(srv.requests[1].body.equals(payload), 'srv.requests[1].body.equals(payload)');
  assert.equal(progress.at(-1), payload.length);
});

test('Buffer bodies are sent whole with Content-Length', async () => {
  const srv = await startServer((_req, res) => json(res, 200, {}));
  afterTest(() => srv.close());
  const h = harness();
  const buf = Buffer.from('{"a":1}\n');
  await h.transport.request({ method: 'PUT', url: `${srv.url}/f`, operation: 'put', retry: 'never', body: buf });
  assert.equal(srv.requests[0].headers['content-length'], String(buf.length));
  assert.ok(srv.requests[0].body.equals(buf), 'srv.requests[0].body.equals(buf)');
});

test('abort: an in-flight request is cancelled promptly with kind cancelled', async () => {
  const srv = await startServer(() => {
    /* never answers */
  });
  afterTest(() => srv.close());
  const ac = new AbortController();
  const h = harness({ signal: ac.signal });
  const p = h.transport.request({ method: 'GET', url: `${srv.url}/hang`, operation: 'read the build', retry: 'always' });
  setTimeout(() => ac.abort(), 50);
  const t0 = Date.now();
  const err = await rejects(p);
  assert.equal(err.kind, 'cancelled');
  assert.match(err.message, /cancelled while trying to read the build/);
  assert.ok(Date.now() - t0 < 2000, 'Date.now() - t0 < 2000');
});

test('abort: a retry wait is cut short (real sleep)', async () => {
  const srv = await startServer((_req, res) => json(res, 503, 'x', { 'retry-after': '100' }));
  afterTest(() => srv.close());
  const ac = new AbortController();
  const h = harness({ sleep: undefined });
  const p = h.transport.request({ method: 'GET', url: `${srv.url}/x`, operation: 'poll', retry: 'always', signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  const t0 = Date.now();
  const err = await rejects(p);
  assert.equal(err.kind, 'cancelled');
  assert.ok(Date.now() - t0 < 2000, 'Date.now() - t0 < 2000');
});

test('a response body that breaks off mid-way is a transport error (and retried for GET)', async () => {
  const srv = await startServer((req, res, _b, n) => {
    if (n === 1) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"partial":');
      setTimeout(() => req.socket.destroy(), 10);
    } else json(res, 200, { whole: true });
  });
  afterTest(() => srv.close());
  const h = harness();
  const res = await h.transport.request({ method: 'GET', url: `${srv.url}/x`, operation: 'read', retry: 'always' });
  assert.deepEqual(JSON.parse(res.body.toString()), { whole: true });
  const h2 = harness();
  srv.requests.length = 0;
  const srv2 = await startServer((req, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('{"partial":');
    setTimeout(() => req.socket.destroy(), 10);
  });
  afterTest(() => srv2.close());
  const err = await rejects(
    h2.transport.request({ method: 'POST', url: `${srv2.url}/x`, operation: 'complete', retry: 'if-unsent', json: {} }),
  );
  assert.equal(err.kind, 'transport');
  assert.equal(srv2.requests.length, 1);
});

test('redirects are not followed (no token sent elsewhere)', async () => {
  const other = await startServer((_req, res) => json(res, 200, {}));
  afterTest(() => other.close());
  const srv = await startServer((_req, res) => {
    res.writeHead(302, { location: `${other.url}/steal` });
    res.end();
  });
  afterTest(() => srv.close());
  const h = harness();
  const res = await h.transport.request({ method: 'GET', url: `${srv.url}/x`, operation: 'read', retry: 'always' });
  assert.equal(res.status, 302);
  assert.equal(other.requests.length, 0);
});

test('debug log: one line per attempt with method, path, status, duration, attempt; redacted', async () => {
  const srv = await startServer((_req, res, _b, n) => (n === 1 ? json(res, 502, 'x') : json(res, 200, {})));
  afterTest(() => srv.close());
  const h = harness();
  h.secrets.add('s3cr3t-path-part');
  await h.transport.request({
    method: 'GET',
    url: `${srv.url}/a/s3cr3t-path-part?path=%2Fx&X-Amz-Signature=abcdef123`,
    operation: 'read',
    retry: 'always',
  });
  const lines = h.logs.filter((l) => l.startsWith('debug: HTTP GET'));
  assert.equal(lines.length, 2);
  assert.match(lines[0], /HTTP GET \/a\/\*\*\*\?path=%2Fx&X-Amz-Signature=\*\*\* → 502 \(\d+ ms, 1 B, attempt 1\/6\)/);
  assert.match(lines[1], /→ 200 .*attempt 2\/6/);
  for (const l of h.logs) {
    assert.ok(!l.includes('abcdef123'), "!l.includes('abcdef123')");
    assert.ok(!l.includes('s3cr3t-path-part'), "!l.includes('s3cr3t-path-part')");
    assert.ok(!l.includes(TOKEN), '!l.includes(TOKEN)');
  }
  assert.equal(loggablePath('https://x/y?sig=1&a=b'), '/y?sig=***&a=b');
});

test('isTransientError follows §5.4', () => {
  const mk = (status: number, body: string) => new HttpStatusError('x', { kind: 'platform', status, body, operation: 'o' });
  assert.equal(isTransientError(mk(502, '')), true);
  assert.equal(isTransientError(mk(400, 'sandbox not running')), true);
  assert.equal(isTransientError(mk(500, 'PROXY_ERROR: x')), true);
  assert.equal(isTransientError(mk(404, 'Failed to proxy request')), true);
  assert.equal(isTransientError(mk(500, 'boom')), false);
  assert.equal(isTransientError(mk(400, 'bad')), false);
  assert.equal(isTransientError(new TransportError('t', { unsent: false })), true);
  assert.equal(isTransientError(new Error('x')), false);
});

test('https to a server that does not speak TLS is a transport error, not a crash', async () => {
  // Not a full TLS server (no certs here): a plain TCP server speaking no TLS makes the handshake fail.
  const s = createServer((_q, r) => r.end('plain'));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  afterTest(() => new Promise<void>((r) => s.close(() => r())));
  const port = (s.address() as AddressInfo).port;
  const h = harness({ retry: { maxAttempts: 1 } });
  const err = await rejects(h.transport.request({ method: 'GET', url: `https://127.0.0.1:${port}/x`, operation: 'read', retry: 'always' }));
  assert.equal(err.kind, 'transport');
});

test('every response body is scanned for signed URLs before anything can quote it (success, error, non-JSON)', async () => {
  const inJson = 'https://s3.example/a?X-Amz-Signature=feedfacefeedface';
  const inHtml = 'https://storage.example/b?sig=c0ffeec0ffeec0ffee';
  const srv = await startServer((req, res) => {
    if (req.url === '/ok') return json(res, 200, { note: `see ${inJson}` });
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end(`<html>bad gateway for ${inHtml}</html>`);
  });
  afterTest(() => srv.close());
  const h = harness({ retry: { maxAttempts: 1 } });
  await h.transport.request({ method: 'GET', url: `${srv.url}/ok`, operation: 'read ok', retry: 'always' });
  assert.equal(h.secrets.redact(`x ${inJson} y`).includes('feedfacefeedface'), false, 'a signed URL in a 200 JSON body is a secret');
  const res = await h.transport.request({ method: 'GET', url: `${srv.url}/err`, operation: 'read err', retry: 'always' });
  assert.equal(res.status, 502);
  assert.equal(h.secrets.redact(inHtml).includes('c0ffeec0ffeec0ffee'), false, 'a signed URL in an HTML error body is a secret');
  const err = h.transport.statusError(res, 'read err');
  assert.ok(!err.message.includes('c0ffeec0ffeec0ffee'), err.message);
});
