/**
 * Limits that must bound: a request under the deadline of the wait it belongs to and a per-request
 * cap (a trickling answer must end), response bodies and SSE events capped with a clear error, and
 * prepare retried on 502/503 like a read.
 */
import { test } from '@jest/globals';
import { afterTest } from '../../after-test.js';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { harness, json, rejects, startServer } from '../platform/helpers.js';
import { PlatformApi } from '../../../src/platform/platform-api.js';
import { sseData } from '../../../src/platform/proxy.js';

const realClock = { now: Date.now, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) };

test('a status read that trickles a byte a second ends at the per-request cap', async () => {
  const srv = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const timer = setInterval(() => res.write(' '), 200);
    res.on('close', () => clearInterval(timer));
  });
  afterTest(() => srv.close());
  const { transport } = harness({ ...realClock, requestTimeoutMs: 1500, retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 10 } });
  const t0 = Date.now();
  const e = await rejects(transport.request({ method: 'GET', url: `${srv.url}/x`, operation: 'read builder sandbox s1', retry: 'always' }));
  const took = Date.now() - t0;
  assert.match(e.message, /read builder sandbox s1.*no complete answer within 1\.5s/);
  assert.ok(took < 60_000, `ended after ${took} ms (a trickle without a cap never ends)`);
});

test('a request never outlives the deadline of the wait it belongs to, retries included', async () => {
  const srv = await startServer(() => undefined); // never answers
  afterTest(() => srv.close());
  const { transport } = harness({ ...realClock, requestTimeoutMs: 60_000 });
  const t0 = Date.now();
  const e = await rejects(
    transport.request({ method: 'GET', url: `${srv.url}/x`, operation: 'read builder sandbox s1', retry: 'always', deadline: t0 + 1000 }),
  );
  const took = Date.now() - t0;
  assert.match(e.message, /read builder sandbox s1/);
  assert.ok(took >= 900 && took < 60_000, `ended after ${took} ms, not before the deadline and not long after`);
});

test('a response body over the cap fails with a clear error, without buffering it', async () => {
  let sent = 0;
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  const srv = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const pump = (): void => {
      while (sent < 320 * 1024 * 1024) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => (sent = Math.max(sent, 0)));
    pump();
  });
  afterTest(() => srv.close());
  const { transport } = harness({ ...realClock, maxBodyBytes: 8 * 1024 * 1024 });
  const e = await rejects(transport.request({ method: 'GET', url: `${srv.url}/x`, operation: 'read build status', retry: 'never' }));
  assert.match(e.message, /read build status.*response body is larger than 8 MiB/);
  assert.ok(sent < 256 * 1024 * 1024, `the server could send only ${sent >> 20} MiB before the client gave up`);
  // a declared Content-Length over the cap is refused before reading
  const big = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(2 * 1024 * 1024 * 1024) });
    res.write('{');
  });
  afterTest(() => big.close());
  const e2 = await rejects(transport.request({ method: 'GET', url: `${big.url}/x`, operation: 'read build status', retry: 'never' }));
  assert.match(e2.message, /larger than 8 MiB/);
});

test('an SSE event without terminator over the cap fails with a clear error', async () => {
  let produced = 0;
  const body = new Readable({
    read() {
      if (produced === 0) this.push('data: ');
      if (produced >= 200 * 1024 * 1024) return void this.push(null);
      produced += 1024 * 1024;
      this.push(Buffer.alloc(1024 * 1024, 0x61));
    },
  });
  const e = await rejects(
    (async () => {
      for await (const _ of sseData(body, 'follow the builder output', { maxEventBytes: 4 * 1024 * 1024 })) void _;
    })(),
  );
  assert.match(e.message, /follow the builder output.*event larger than 4 MiB/);
  assert.ok(produced < 64 * 1024 * 1024, `read ${produced >> 20} MiB`);
});

test('prepare answered 502 or 503 (no Retry-After) is retried like a read', async () => {
  for (const status of [502, 503]) {
    const srv = await startServer((_req, res, _b, n) =>
      n === 1
        ? json(res, status, { error: 'bad gateway' })
        : json(res, 200, {
            buildId: 'b1',
            snapshotId: 's1',
            snapshotUri: 's3://x/s1',
            builder: { image: 'i', command: ['c'] },
            rootfsNodeKind: 'base',
          }),
    );
    afterTest(() => srv.close());
    const api = new PlatformApi(harness().transport, srv.url);
    api.setScope({ organizationId: 'o', projectId: 'p' });
    const e = await api
      .prepare({
        name: 'n',
        dockerfile: 'FROM x',
        baseImage: 'x',
        public: false,
        rootfsNodeKind: 'base',
        parentTemplate: null,
        additionalLocalImages: [],
      })
      .catch((x: Error) => x);
    assert.equal(srv.requests.length, 2, `HTTP ${status} retried`);
    // whatever the rest of the answer's validation says, the retry happened
    void e;
  }
});
