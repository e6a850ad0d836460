import { test } from '@jest/globals';
import { afterTest } from '../../after-test.js';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { SandboxProxy, resolveProxyTarget, parseOutputPayload, parseRunPayload } from '../../../src/platform/proxy.js';
import type { OutputEvent, RunEvent } from '../../../src/platform/types.js';
import { harness, json, rejects, startServer, TOKEN } from './helpers.js';

function sse(res: ServerResponse, contentType = 'text/event-stream; charset=utf-8'): void {
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache' });
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('resolveProxyTarget: §1.5 steps 1–4', () => {
  assert.deepEqual(resolveProxyTarget(undefined, 'sbx-123', 'http://localhost:9443'), {
    baseUrl: 'http://localhost:9443',
    hostOverride: 'sbx-123.local',
  });
  assert.deepEqual(resolveProxyTarget('https://sbx-1.sandbox.gcp-use4.tensorlake.ai', 'sbx-1', 'http://localhost:9443'), {
    baseUrl: 'https://sbx-1.sandbox.gcp-use4.tensorlake.ai',
  });
  assert.deepEqual(resolveProxyTarget('  https://h.example:8443/some/path?q=1 ', 's'), { baseUrl: 'https://h.example:8443' });
  assert.deepEqual(resolveProxyTarget('http://127.0.0.1:9000/proxy/', 's1'), {
    baseUrl: 'http://127.0.0.1:9000/proxy',
    hostOverride: 's1.local',
  });
  assert.deepEqual(resolveProxyTarget('   ', 's1', ' http://localhost:1/ '), { baseUrl: 'http://localhost:1', hostOverride: 's1.local' });
  assert.deepEqual(resolveProxyTarget('https://[2001:db8::1]:8443/x', 's'), { baseUrl: 'https://[2001:db8::1]:8443' });
  assert.throws(
    () => resolveProxyTarget(undefined, 's', undefined),
    /^ActionError: server response did not include sandbox_url; refusing to derive a proxy URL$/,
  );
  assert.throws(() => resolveProxyTarget('', 's', '  '), /server response did not include sandbox_url/);
  assert.throws(() => resolveProxyTarget('not a url', 's'), /invalid proxy url not a url/);
  assert.throws(() => resolveProxyTarget('http://sandbox.example.com', 's'), /refusing plain http:\/\/ proxy url/);
});

function proxyFor(url: string, h = harness(), extra: { routingHint?: string } = {}): SandboxProxy {
  return new SandboxProxy(h.transport, { ...resolveProxyTarget(url, 'sbx1'), sandboxId: 'sbx1', ...extra });
}

test('proxy headers: sandbox id, route hint, Host override, bearer and scope', async () => {
  const srv = await startServer((_req, res) => json(res, 200, { healthy: true }));
  afterTest(() => srv.close());
  const h = harness({ scopeHeaders: { organizationId: 'o', projectId: 'p' } });
  const proxy = proxyFor(srv.url, h, { routingHint: 'hint-7' });
  assert.equal(await proxy.health(), true);
  const r = srv.requests[0];
  assert.equal(r.url, '/api/v1/health');
  assert.equal(r.headers.host, 'sbx1.local');
  assert.equal(r.headers['x-tensorlake-sandbox-id'], 'sbx1');
  assert.equal(r.headers['x-tensorlake-route-hint'], 'hint-7');
  assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
  assert.equal(r.headers['x-forwarded-organization-id'], 'o');
});

test('health: false on errors and on a bad body, never throws', async () => {
  let mode = 0;
  const srv = await startServer((req, res) => {
    mode++;
    if (mode === 1) return json(res, 500, 'x');
    if (mode === 2) return json(res, 200, '<html>');
    req.socket.destroy();
  });
  afterTest(() => srv.close());
  const proxy = proxyFor(srv.url);
  assert.equal(await proxy.health(), false);
  assert.equal(await proxy.health(), false);
  assert.equal(await proxy.health(), false);
});

test('SSE follow: multi-line data, heartbeats/comments/other payloads skipped, events split across chunks', async () => {
  const srv = await startServer(async (_req, res) => {
    sse(res);
    const write = (s: string) => new Promise<void>((r) => res.write(s, () => setTimeout(r, 5)));
    await write(': comment heartbeat\n\n');
    await write('data: {"line":"one","timestamp":1,"stream":"stdout"}\n\n');
    await write('data: {"heartbeat":true}\n\n');
    await write('event: output\nid: 7\ndata: {"line":"tw');
    await write('o","timestamp":2,"stream":"stderr"}\n');
    await write('\n');
    await write('data: {"line":\ndata: "multi","timestamp":3}\n\n'); // multi-line data joined with \n
    await write('data: not json\n\n');
    await write('data: {"line":"é€');
    await write('😀","timestamp":4}\r\n\r\n');
    res.end();
  });
  afterTest(() => srv.close());
  const proxy = proxyFor(srv.url);
  const events = await collect(proxy.followOutput(100));
  assert.deepEqual(
    events.map((e: OutputEvent) => [e.stream, e.line]),
    [
      ['stdout', 'one'],
      ['stderr', 'two'],
      ['stdout', 'multi'],
      ['stdout', 'é€😀'],
    ],
  );
  assert.equal(srv.requests[0].url, '/api/v1/processes/100/output/follow');
  assert.equal(srv.requests[0].headers.accept, 'text/event-stream');
});

test('SSE follow: UTF-8 split inside a multi-byte character', async () => {
  const payload = Buffer.from('data: {"line":"ü","timestamp":1}\n\n');
  const cut = payload.indexOf(Buffer.from('ü')) + 1;
  const srv = await startServer(async (_req, res) => {
    sse(res);
    res.write(payload.subarray(0, cut));
    await new Promise((r) => setTimeout(r, 20));
    res.end(payload.subarray(cut));
  });
  afterTest(() => srv.close());
  const events = await collect(proxyFor(srv.url).followOutput(1));
  assert.deepEqual(
    events.map((e) => e.line),
    ['ü'],
  );
});

test('SSE follow: wrong content type is a clear error', async () => {
  const srv = await startServer((_req, res) => json(res, 200, { line: 'x' }));
  afterTest(() => srv.close());
  const err = await rejects(collect(proxyFor(srv.url).followOutput(5)));
  assert.equal(
    err.message,
    'expected text/event-stream response from /api/v1/processes/5/output/follow, got content-type: application/json',
  );
});

test('SSE follow: non-2xx → status error; network error mid-stream → transport error', async () => {
  let n = 0;
  const srv = await startServer(async (req, res) => {
    n++;
    if (n === 1) return json(res, 404, { error: 'no such process' });
    sse(res);
    res.write('data: {"line":"a","timestamp":1}\n\n');
    await new Promise((r) => setTimeout(r, 20));
    req.socket.destroy();
  });
  afterTest(() => srv.close());
  const proxy = proxyFor(srv.url);
  const e1 = await rejects(collect(proxy.followOutput(5)));
  assert.equal(e1.httpStatus, 404);
  assert.match(e1.message, /^failed to follow output of process 5 \(HTTP 404 Not Found\)/);
  const got: string[] = [];
  const e2 = await rejects(
    (async () => {
      for await (const ev of proxy.followOutput(5)) got.push(ev.line);
    })(),
  );
  assert.deepEqual(got, ['a']);
  assert.equal(e2.kind, 'transport');
  assert.match(e2.message, /event stream broke off/);
});

test('SSE follow: a silent stream ends cleanly after the idle limit', async () => {
  const srv = await startServer((_req, res) => {
    sse(res);
    res.write('data: {"line":"a","timestamp":1}\n\n');
  });
  afterTest(() => srv.close());
  const h = harness();
  const proxy = new SandboxProxy(h.transport, { baseUrl: srv.url, sandboxId: 's' }, { followIdleTimeoutMs: 100 });
  const events = await collect(proxy.followOutput(1));
  assert.deepEqual(
    events.map((e) => e.line),
    ['a'],
  );
});

test('SSE follow: aborting the run signal cancels promptly', async () => {
  const srv = await startServer((_req, res) => sse(res));
  afterTest(() => srv.close());
  const ac = new AbortController();
  const h = harness({ signal: ac.signal });
  const proxy = new SandboxProxy(h.transport, { baseUrl: srv.url, sandboxId: 's' });
  setTimeout(() => ac.abort(), 50);
  const err = await rejects(collect(proxy.followOutput(1)));
  assert.equal(err.kind, 'cancelled');
});

test('putFile: form-encoded path, explicit Content-Length, no content type; getFile/deleteFile', async () => {
  const files = new Map<string, Buffer>();
  const srv = await startServer((req, res, body) => {
    const path = new URL(req.url ?? '', 'http://x').searchParams.get('path') ?? '';
    if (req.method === 'PUT') {
      files.set(path, body);
      res.statusCode = 201;
      return res.end();
    }
    if (req.method === 'GET') {
      const f = files.get(path);
      if (!f) return json(res, 404, 'missing');
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return res.end(f);
    }
    const existed = files.delete(path);
    res.statusCode = existed ? 200 : 404;
    res.end();
  });
  afterTest(() => srv.close());
  const proxy = proxyFor(srv.url);
  const path = '/var/lib/tensorlake/rootfs-builder/build/my spec.json';
  await proxy.putFile(path, Buffer.from('{"a":1}'));
  assert.equal(srv.requests[0].url, '/api/v1/files?path=%2Fvar%2Flib%2Ftensorlake%2Frootfs-builder%2Fbuild%2Fmy+spec.json');
  assert.equal(srv.requests[0].headers['content-length'], '7');
  assert.equal(srv.requests[0].headers['content-type'], undefined);
  assert.equal((await proxy.getFile(path)).toString(), '{"a":1}');
  await proxy.deleteFile(path);
  await proxy.deleteFile(path); // 404: already gone
  const err = await rejects(proxy.getFile(path));
  assert.match(err.message, /^failed to download .* from the builder sandbox \(HTTP 404 Not Found\)/);
});

test('signBlob: signed URLs in the answer are registered and never reach the debug log', async () => {
  let base = '';
  // The "signed" URLs point back at the test server, with a signature in a query parameter whose
  // name is not recognisably sensitive: only the registry can redact it.
  const signed = () => `${base}/final.tlsnap?uploadId=u1&partNumber=1&p=5ec2e7515ec2e751`;
  const getUrl = () => `${base}/parent.tlsnap?cred=AKIAEXAMPLE&q=feedfacefeedface`;
  const srv = await startServer((req, res, body) => {
    if (req.url !== '/api/v1/blob/sign') return json(res, 200, {});
    const b = JSON.parse(body.toString()) as { op: { kind: string } };
    if (b.op.kind === 'put_artifact')
      json(res, 200, {
        kind: 's3_multipart',
        uri: 's3://bucket/final.tlsnap',
        uploadId: 'u1',
        partSizeBytes: 67108864,
        partUrls: [signed()],
      });
    else json(res, 200, { kind: 'single_get', url: getUrl() });
  });
  base = srv.url;
  afterTest(() => srv.close());
  const h = harness();
  const proxy = proxyFor(srv.url, h);
  const up = await proxy.signBlob({
    target: { kind: 'artifact', rel_path: 'p/b/final.tlsnap' },
    op: { kind: 'put_artifact', multipart_hint: { max_parts: 160, part_size_bytes: 67108864 } },
  });
  assert.equal(up.uri, 's3://bucket/final.tlsnap');
  const down = await proxy.signBlob({ target: { kind: 'blob', uri: 's3://bucket/parent.tlsnap' }, op: { kind: 'get_blob' } });
  assert.equal(down.url, getUrl());
  assert.equal(srv.requests[0].url, '/api/v1/blob/sign');
  assert.equal(srv.requests[0].headers['content-type'], 'application/json');
  assert.ok(h.secrets.has(signed()) && h.secrets.has(getUrl()), 'h.secrets.has(signed()) && h.secrets.has(getUrl())');
  // Using the signed URLs through the transport logs only redacted lines.
  await h.transport.request({ method: 'PUT', url: signed(), operation: 'upload part', retry: 'never', body: 'x' });
  await h.transport.request({ method: 'GET', url: getUrl(), operation: 'download parent', retry: 'never' });
  const debug = h.logs.filter((l) => l.startsWith('debug: '));
  assert.ok(
    debug.some((l) => l.includes('/final.tlsnap')),
    'the request was logged',
  );
  for (const l of debug) {
    for (const secret of ['5ec2e7515ec2e751', 'feedfacefeedface', 'AKIAEXAMPLE'])
      assert.ok(!l.includes(secret), `${secret} leaked in: ${l}`);
  }
});

test('signBlob: error bodies echoing a signed URL are redacted; a non-object answer is invalid', async () => {
  const signed = 'https://s3.example/x?X-Amz-Signature=0badc0de0badc0de';
  let n = 0;
  const srv = await startServer((_req, res) =>
    ++n === 1 ? json(res, 400, { error: `cannot sign ${signed}`, url: signed }) : json(res, 200, [signed]),
  );
  afterTest(() => srv.close());
  const h = harness();
  const proxy = proxyFor(srv.url, h);
  const e1 = await rejects(proxy.signBlob({}));
  assert.ok(!e1.message.includes('0badc0de0badc0de'), e1.message);
  const e2 = await rejects(proxy.signBlob({}));
  assert.match(e2.message, /invalid blob sign response: body must be a JSON object/);
  assert.ok(!e2.message.includes('0badc0de0badc0de'), e2.message);
});

test("SSE follow: a failed stream's error body is scanned for signed URLs before the error quotes it", async () => {
  const signed = 'https://s3.example/log?X-Amz-Signature=5e5e5e5e5e5e5e5e';
  const srv = await startServer((_req, res) => json(res, 400, { error: `log moved to ${signed}` }));
  afterTest(() => srv.close());
  const h = harness();
  const proxy = proxyFor(srv.url, h);
  const err = await rejects(collect(proxy.followOutput(5)));
  assert.equal(err.httpStatus, 400);
  assert.match(err.message, /^failed to follow output of process 5 \(HTTP 400 Bad Request\)/);
  assert.ok(!err.message.includes('5e5e5e5e5e5e5e5e'), err.message);
  assert.equal(h.secrets.redact(signed).includes('5e5e5e5e5e5e5e5e'), false);
});

test("signBlob: an error body's URLs count as pre-signed even when their query names nothing secret", async () => {
  // The transport's scan of every body only knows signature-looking query keys; a signing
  // endpoint's error may echo a URL signed with opaque keys, which only its own rule catches.
  const presigned = 'https://blob.example/obj?e=1767225600&h=a1b2c3d4e5f6a7b8';
  const srv = await startServer((_req, res) => json(res, 400, { error: `cannot sign ${presigned}` }));
  afterTest(() => srv.close());
  const h = harness();
  const proxy = proxyFor(srv.url, h);
  const err = await rejects(proxy.signBlob({}));
  assert.match(err.message, /^failed to sign blob access \(HTTP 400 Bad Request\)/);
  assert.ok(!err.message.includes('a1b2c3d4e5f6a7b8'), err.message);
});

test('runProcess: started / output / exited events, skipped payloads', async () => {
  const srv = await startServer((_req, res) => {
    sse(res);
    res.write('data: {"pid":7,"started_at":123}\n\n');
    res.write('data: {"line":"[  1.0] Out of memory: Killed process 42","timestamp":1,"stream":"stdout"}\n\n');
    res.write('data: {"line":"err","timestamp":2,"stream":"stderr"}\n\n');
    res.write('data: {"keepalive":true}\n\n');
    res.write('data: garbage\n\n');
    res.end('data: {"exit_code":0,"oom_killed":false}\n\n');
  });
  afterTest(() => srv.close());
  const proxy = proxyFor(srv.url);
  const events = await collect(proxy.runProcess({ command: '/bin/sh', args: ['-lc', 'dmesg'], user: 'root', timeout: 5 }));
  assert.deepEqual(events, [
    { type: 'started', pid: 7 },
    { type: 'output', line: '[  1.0] Out of memory: Killed process 42', stream: 'stdout' },
    { type: 'output', line: 'err', stream: 'stderr' },
    { type: 'exited', exit_code: 0, oom_killed: false },
  ] satisfies RunEvent[]);
  assert.equal(srv.requests[0].method, 'POST');
  assert.equal(srv.requests[0].url, '/api/v1/processes/run');
  assert.equal(srv.requests[0].headers.accept, 'text/event-stream');
  assert.equal(srv.requests[0].headers['content-type'], 'application/json');
});

test('payload parsers', () => {
  assert.deepEqual(parseOutputPayload('{"line":"x","timestamp":"t"}'), { line: 'x', stream: 'stdout', timestamp: 't' });
  assert.equal(parseOutputPayload('{"line":5}'), undefined);
  assert.equal(parseOutputPayload('{"line":"x","stream":"other"}'), undefined);
  assert.deepEqual(parseRunPayload('{"signal":9,"oom_killed":true}'), { type: 'exited', signal: 9, oom_killed: true });
  assert.equal(parseRunPayload('{"oom_killed":true}'), undefined);
  assert.equal(parseRunPayload('{"exit_code":"0"}'), undefined);
});

test('process endpoints: start/list/get validated', async () => {
  const srv = await startServer((req, res) => {
    if (req.method === 'POST') return json(res, 200, { pid: 100, status: 'running', command: '/bin/true', args: [], started_at: 1 });
    if (req.url === '/api/v1/processes')
      return json(res, 200, { processes: [{ pid: 1, status: 'exited', exit_code: 0, command: 'a', args: ['b'], started_at: 0 }] });
    json(res, 200, {
      pid: 100,
      status: 'oom_killed',
      command: '/bin/true',
      started_at: 1,
      signal: 9,
      managed: { last_exit: { oom_killed: true } },
    });
  });
  afterTest(() => srv.close());
  const proxy = proxyFor(srv.url);
  const p = await proxy.startProcess({ command: '/bin/true', args: [] });
  assert.deepEqual(p, { pid: 100, status: 'running', command: '/bin/true', args: [], oom_killed: false });
  assert.deepEqual(JSON.parse(srv.requests[0].body.toString()), { command: '/bin/true', args: [] });
  const list = await proxy.listProcesses();
  assert.equal(list[0].exit_code, 0);
  const g = await proxy.getProcess(100);
  assert.equal(g.signal, 9);
  assert.equal(g.managed_oom_killed, true);
});

test('SSE follow: 503 bursts before the stream opens are retried', async () => {
  const srv = await startServer((_req, res, _b, n) => {
    if (n <= 2) return json(res, 503, 'warming up');
    sse(res);
    res.end('data: {"line":"ok","timestamp":1}\n\n');
  });
  afterTest(() => srv.close());
  const h = harness();
  const events = await collect(proxyFor(srv.url, h).followOutput(3));
  assert.deepEqual(
    events.map((e) => e.line),
    ['ok'],
  );
  assert.equal(srv.requests.length, 3);
  assert.equal(h.sleeps.length, 2);
});
