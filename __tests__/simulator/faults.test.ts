/** Every fault kind, the control plane (/_sim), the request log and reset. */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, beforeEach, test } from '@jest/globals';
import { startSimulator, type SimulatorHandle } from '../../simulator/index.js';
import { BUILD_DIR, buildFlow, FAST, KEY, obj, req, run, sandbox, SCOPE, sse } from './client.js';

let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator({ ...FAST });
});
afterAll(() => sim.stop());
beforeEach(() => sim.clearFaults());

const BY_NAME = `${SCOPE}/sandbox-templates/by-name/tensorlake%2Fbase%3A1`;

test('status faults: Retry-After, HTML page, malformed JSON, empty 2xx, wrong types; times and skip budgets', async () => {
  sim.addFaults([
    {
      kind: 'status',
      method: 'GET',
      path: `${SCOPE}/sandbox-templates/by-name/*`,
      status: 503,
      headers: { 'Retry-After': '2' },
      skip: 1,
      times: 2,
    },
  ]);
  assert.equal((await req(sim, 'GET', BY_NAME)).status, 200, 'first request skipped');
  const a = await req(sim, 'GET', BY_NAME);
  assert.deepEqual([a.status, a.headers['retry-after'], obj(a).code], [503, '2', 'INJECTED_FAULT']);
  assert.equal((await req(sim, 'GET', BY_NAME)).status, 503);
  assert.equal((await req(sim, 'GET', BY_NAME)).status, 200, 'budget exhausted');
  const rule = sim.state().faults[0];
  assert.deepEqual([rule.seen, rule.hits, rule.remaining], [3, 2, 0]);

  sim.addFaults({ kind: 'status', path: '/platform/**', status: 502, body: '<html><body><h1>502 Bad Gateway</h1></body></html>' });
  const html = await req(sim, 'GET', BY_NAME);
  assert.deepEqual(
    [html.status, html.headers['content-type'], html.text],
    [502, 'text/html; charset=utf-8', '<html><body><h1>502 Bad Gateway</h1></body></html>'],
  );

  sim.addFaults({ kind: 'status', method: 'POST', path: '**/complete', status: 200, body: '{"id": "tpl_1", ' });
  const broken = await req(sim, 'POST', `${SCOPE}/sandbox-template-builds/b/complete`, { json: {} });
  assert.deepEqual([broken.status, broken.headers['content-type'], broken.text], [200, 'application/json', '{"id": "tpl_1", ']);

  sim.addFaults({ kind: 'status', method: 'POST', path: 're:/complete$', status: 202, body: '' });
  const empty = await req(sim, 'POST', `${SCOPE}/sandbox-template-builds/b/complete`, { json: {} });
  assert.deepEqual([empty.status, empty.text], [202, '']);

  sim.addFaults({
    kind: 'status',
    method: 'GET',
    path: '/v1/namespaces/*/sandboxes/*',
    status: 200,
    body: { sandbox_id: 42, status: ['running'], namespace: null },
  });
  const wrong = await req(sim, 'GET', '/v1/namespaces/default/sandboxes/anything');
  assert.deepEqual(wrong.body, { sandbox_id: 42, status: ['running'], namespace: null });

  sim.addFaults({
    kind: 'status',
    path: '/api/v1/health',
    status: 429,
    contentType: 'text/plain',
    body: 'slow down',
    headers: { 'retry-after': '1' },
    times: -1,
  });
  for (let i = 0; i < 3; i++) assert.equal((await req(sim, 'GET', '/api/v1/health', { sandbox: 'whatever' })).status, 429);
  assert.equal(sim.state().faults.at(-1)!.remaining, -1, 'unlimited');
});

test('delay faults hold the request; method filters apply', async () => {
  sim.addFaults({ kind: 'delay', method: 'GET', path: BY_NAME, delayMs: 150 });
  assert.equal((await req(sim, 'POST', BY_NAME)).status, 405, 'POST does not match a GET rule');
  assert.equal(sim.state().faults.at(-1)!.hits, 0, 'the POST did not consume the GET rule');
  const t1 = Date.now();
  assert.equal((await req(sim, 'GET', BY_NAME)).status, 200);
  assert.ok(Date.now() - t1 >= 140);
});

test('reset faults: before (nothing happens) and after (ambiguous: the work is done)', async () => {
  const count = (): number => sim.state().sandboxes.length;
  const n0 = count();
  sim.addFaults({ kind: 'reset', method: 'POST', path: '/v1/namespaces/*/sandboxes', when: 'before' });
  await assert.rejects(
    req(sim, 'POST', '/v1/namespaces/default/sandboxes', { json: { image: 'x', name: 'amb-1' } }),
    /socket hang up|ECONNRESET/,
  );
  assert.equal(count(), n0, 'no sandbox created');

  sim.addFaults({ kind: 'reset', method: 'POST', path: '/v1/namespaces/*/sandboxes', when: 'after' });
  await assert.rejects(
    req(sim, 'POST', '/v1/namespaces/default/sandboxes', { json: { image: 'x', name: 'amb-2' } }),
    /socket hang up|ECONNRESET/,
  );
  assert.equal(count(), n0 + 1, 'the sandbox exists although the client saw a reset');
  const found = obj(await req(sim, 'GET', '/v1/namespaces/default/sandboxes?name=amb-2'));
  assert.equal(found.sandboxes.length, 1, 'it can be found again by name');
  const log = sim
    .state()
    .requests.filter((r) => r.path === '/v1/namespaces/default/sandboxes' && r.method === 'POST')
    .slice(-2);
  assert.deepEqual(
    log.map((r) => r.status),
    [0, 0],
  );
  assert.ok(log.every((r) => r.faults?.length === 1));
  await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${found.sandboxes[0].sandbox_id as string}`);
});

test('rejectAuth: 401 for everything while the budget lasts; control endpoints are unaffected', async () => {
  sim.addFaults({ kind: 'rejectAuth', times: 2 });
  const a = await req(sim, 'POST', '/platform/v1/keys/introspect');
  assert.deepEqual([a.status, obj(a).error], [401, 'Invalid API key or personal access token']);
  assert.equal((await req(sim, 'GET', '/_sim/state', { token: null })).status, 200);
  assert.equal((await req(sim, 'GET', '/v1/namespaces/default/sandboxes')).status, 401);
  assert.equal((await req(sim, 'POST', '/platform/v1/keys/introspect')).status, 200);
});

test('dropStream: the follow is cut after K lines; a re-follow replays the whole history', async () => {
  const id = await sandbox(sim);
  const p = await req(sim, 'POST', '/api/v1/processes', { sandbox: id, json: { command: '/bin/sh', args: ['-lc', 'dmesg'] } });
  const pid = obj(p).pid as number;
  await new Promise((r) => setTimeout(r, 20));
  sim.addFaults({ kind: 'dropStream', path: '/api/v1/processes/*/output/follow', afterLines: 2 });
  const cut = await sse(sim, 'GET', `/api/v1/processes/${pid}/output/follow`, { sandbox: id });
  assert.equal(cut.events.length, 2);
  assert.equal(cut.aborted, true);
  const full = await sse(sim, 'GET', `/api/v1/processes/${pid}/output/follow`, { sandbox: id });
  assert.equal(full.aborted, false);
  assert.deepEqual(full.events.slice(0, 2), cut.events);
  assert.ok(full.events.length > 2);
  // also for /processes/run
  sim.addFaults({ kind: 'dropStream', path: '/api/v1/processes/run', afterLines: 1 });
  const r = await sse(sim, 'POST', '/api/v1/processes/run', {
    sandbox: id,
    json: { command: '/bin/sh', args: ['-lc', 'dmesg'], user: 'root', timeout: 5 },
  });
  assert.equal(r.aborted, true);
  assert.equal(r.events.length, 2, 'started + one output line');
  await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${id}`);
});

test('sandboxPending keeps the next sandbox pending for T ms', async () => {
  sim.addFaults({ kind: 'sandboxPending', pendingMs: 400 });
  const t0 = Date.now();
  const id = await sandbox(sim);
  assert.ok(Date.now() - t0 >= 390, 'the first sandbox waited its pending time');
  const t1 = Date.now();
  await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${await sandbox(sim)}`);
  assert.ok(Date.now() - t1 < 300, 'only the next one (the default pending is a few ms)');
  await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${id}`);
});

test('terminateSandbox: at creation, now (by id), and after K builder lines', async () => {
  sim.addFaults({ kind: 'terminateSandbox', reason: 'capacity reclaimed' });
  const c = obj(await req(sim, 'POST', '/v1/namespaces/default/sandboxes', { json: { image: 'x' } }));
  assert.equal(c.status, 'pending');
  const g = obj(await req(sim, 'GET', `/v1/namespaces/default/sandboxes/${c.sandbox_id as string}`));
  assert.deepEqual([g.status, g.termination_reason], ['terminated', 'capacity reclaimed']);

  const id = await sandbox(sim);
  const ctl = await req(sim, 'POST', '/_sim/faults', { token: null, json: { kind: 'terminateSandbox', sandboxId: id } });
  assert.equal(ctl.status, 201);
  assert.equal(obj(ctl).added[0].hits, 1);
  assert.equal(obj(await req(sim, 'GET', `/v1/namespaces/default/sandboxes/${id}`)).status, 'terminated');

  sim.addFaults({ kind: 'terminateSandbox', afterBuilderLines: 8 });
  const r = await buildFlow(sim, { cas: false, name: 'killed' });
  assert.equal(r.builder.info.code, 'SANDBOX_TERMINATED', 'status read after the kill → 410');
  assert.equal(r.builder.lines.length, 8);
  assert.equal(r.metadata, undefined);
  const sb = sim.state().sandboxes.find((s) => s.id === r.sb)!;
  assert.equal(sb.status, 'terminated');
  assert.match(sb.terminationReason!, /after 8 builder lines/);
  const proc = sb.processes.find((p) => p.command === '/usr/local/bin/tl-rootfs-build')!;
  assert.deepEqual([proc.status, proc.signal], ['signaled', 9]);
});

test('builderFail: exit code and message, at the first RUN step by default', async () => {
  sim.addFaults({ kind: 'builderFail', exitCode: 17, message: 'pip exploded' });
  const r = await buildFlow(sim, { cas: false, name: 'fail' });
  assert.deepEqual([r.builder.info.exit_code, r.builder.info.status], [17, 'exited']);
  const tail = r.builder.lines.slice(-3).map((l) => `${l.stream}:${l.line}`);
  assert.match(tail[0], /^stderr:#7 \[4\/5\] RUN pip install -r requirements.txt$/);
  assert.match(
    tail[1],
    /^stderr:#7 ERROR: process "\/bin\/sh -c pip install -r requirements.txt" did not complete successfully: exit code: 17$/,
  );
  assert.equal(tail[2], 'stderr:Error: docker build failed: pip exploded');
  assert.equal(r.metadata, undefined);
  sim.addFaults({ kind: 'builderFail', afterLines: 3 });
  const early = await buildFlow(sim, { cas: false, name: 'fail2' });
  assert.equal(early.builder.info.exit_code, 1);
  assert.equal(early.builder.lines.length, 2 + 3 + 2);
});

test('builderOom: process oom_killed with signal 9, dmesg shows the kill', async () => {
  sim.addFaults({ kind: 'builderOom' });
  const r = await buildFlow(sim, { cas: false, name: 'oom' });
  assert.deepEqual(
    [r.builder.info.status, r.builder.info.signal, r.builder.info.oom_killed, r.builder.info.exit_code],
    ['oom_killed', 9, true, undefined],
  );
  assert.match(r.builder.lines.at(-1)!.line, /^#7 Killed$/);
  const d = await sse(sim, 'POST', '/api/v1/processes/run', {
    sandbox: r.sb,
    json: { command: '/bin/sh', args: ['-lc', 'dmesg 2>/dev/null || true'], user: 'root', timeout: 5 },
  });
  const lines = d.events.filter((e) => typeof e.line === 'string').map((e) => e.line as string);
  assert.ok(
    lines.some((l) => /Out of memory: Killed process \d+ \(python3\)/.test(l)),
    lines.join('\n'),
  );
  assert.ok(lines.some((l) => /invoked oom-killer/.test(l)));
  assert.equal(sim.state().sandboxes.find((s) => s.id === r.sb)!.oomKills, 1);
});

test('builderEnospc: "No space left on device" output and a full disk in df', async () => {
  sim.addFaults({ kind: 'builderEnospc' });
  const r = await buildFlow(sim, { cas: false, name: 'enospc' });
  assert.equal(r.builder.info.exit_code, 1);
  assert.ok(
    r.builder.lines.some((l) => l.stream === 'stderr' && l.line === 'Error: docker build failed: No space left on device (os error 28)'),
  );
  assert.ok(r.builder.lines.some((l) => /no space left on device$/.test(l.line)));
  const d = await run(
    sim,
    r.sb,
    '/bin/sh',
    ['-lc', `for p in ${BUILD_DIR} /var/lib/docker /; do [ -e "$p" ] && df -P "$p"; done 2>/dev/null || true`],
    { user: 'root' },
  );
  const usage = d.lines.filter((l) => !l.line.startsWith('Filesystem')).map((l) => l.line.split(/\s+/)[4]);
  assert.deepEqual(usage, ['100%', '100%', '100%']);
});

test('control plane: invalid rules are 400, list/delete rules, request log redaction, state and reset', async () => {
  const bad = await req(sim, 'POST', '/_sim/faults', { token: null, json: { kind: 'explode' } });
  assert.equal(bad.status, 400);
  assert.match(obj(bad).error, /^invalid fault rule: kind must be one of status, delay/);
  const bad2 = await req(sim, 'POST', '/_sim/faults', { token: null, json: [{ kind: 'status' }] });
  assert.deepEqual([bad2.status, obj(bad2).error], [400, 'invalid fault rule: status must be an HTTP status code from 200 to 599']);
  for (const rule of [
    { kind: 'status', status: 101 },
    { kind: 'status', status: 502, headers: { 'bad header': 'x' } },
    { kind: 'status', status: 502, headers: { 'retry-after': 'a\nb' } },
    { kind: 'status', status: 204, body: 'not empty' },
    { kind: 'delay', delayMs: 3e9 },
    { kind: 'sandboxPending', pendingMs: 3e9 },
  ]) {
    const r = await req(sim, 'POST', '/_sim/faults', { token: null, json: rule });
    assert.equal(r.status, 400, `${JSON.stringify(rule)} is refused`);
  }
  const bad3 = await req(sim, 'POST', '/_sim/faults', { token: null, json: { kind: 'delay', delayMs: 5, times: 1.5 } });
  assert.equal(bad3.status, 400);
  const bad4 = await req(sim, 'POST', '/_sim/faults', { token: null, raw: 'not json' });
  assert.equal(bad4.status, 400);
  const ok = obj(
    await req(sim, 'POST', '/_sim/faults', { token: null, json: [{ kind: 'delay', delayMs: 1, id: 'd1' }, { kind: 'builderOom' }] }),
  );
  assert.deepEqual(
    ok.added.map((f: { id: string }) => f.id),
    ['d1', ok.added[1].id],
  );
  assert.equal(obj(await req(sim, 'GET', '/_sim/faults', { token: null })).faults.length, 2);
  assert.equal((await req(sim, 'DELETE', '/_sim/faults/d1', { token: null })).status, 200);
  assert.equal((await req(sim, 'DELETE', '/_sim/faults/d1', { token: null })).status, 404);
  assert.equal((await req(sim, 'DELETE', '/_sim/faults', { token: null })).status, 200);
  assert.equal(sim.state().faults.length, 0);

  await req(sim, 'GET', BY_NAME, { headers: { 'x-api-key': 'secret-value', cookie: 'session=abc' } });
  const st = obj(await req(sim, 'GET', '/_sim/state', { token: null }));
  const last = st.requests.at(-1);
  assert.equal(last.path, BY_NAME);
  assert.equal(last.status, 200);
  assert.equal(last.role, 'platform');
  assert.equal(last.headers.authorization, 'Bearer [REDACTED]');
  assert.equal(last.headers['x-api-key'], '[REDACTED]');
  assert.equal(last.headers.cookie, '[REDACTED]');
  assert.ok(typeof last.durationMs === 'number');
  assert.ok(!JSON.stringify(st).includes(KEY), 'no token anywhere in the state');
  assert.ok(!st.requests.some((r: { path: string }) => r.path.startsWith('/_sim')), 'control requests are not logged');

  await req(sim, 'POST', `${SCOPE}/sandbox-templates`, {
    json: { name: 'tmp', snapshotId: 's', snapshotUri: 'u', snapshotSizeBytes: 1, rootfsDiskBytes: 1 },
  });
  await sandbox(sim);
  const reset = await req(sim, 'POST', '/_sim/reset', { token: null });
  assert.equal(reset.status, 200);
  const after = sim.state();
  assert.deepEqual([after.sandboxes.length, after.builds.length, after.requests.length, after.chunkStore.chunks], [0, 0, 0, 0]);
  assert.deepEqual(
    after.templates.map((t) => t.name),
    ['tensorlake/base:1'],
    'back to the seeded templates',
  );
  assert.equal((await req(sim, 'GET', '/_sim/nope', { token: null })).status, 404);
});

test('a handler exception becomes a 500 JSON and the server stays up', async () => {
  const id = await sandbox(sim);
  // /bin/sh with a script the emulation does not know exits 127 (not a crash)
  const r = await run(sim, id, '/bin/sh', ['-lc', 'frobnicate --all']);
  assert.deepEqual([r.info.exit_code, r.lines[0].line], [127, 'sh: 1: frobnicate: not found']);
  // a process start payload with a non-object body
  const s = await req(sim, 'POST', '/api/v1/processes', {
    sandbox: id,
    raw: '"just a string"',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(s.status, 400);
  assert.equal((await req(sim, 'GET', BY_NAME)).status, 200);
  await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${id}`);
});
