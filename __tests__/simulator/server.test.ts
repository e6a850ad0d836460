/** Server-level behaviour: independent instances in one process, prompt stop with open SSE streams, timeouts. */
import assert from 'node:assert/strict';
import { test } from '@jest/globals';
import { startSimulator } from '../../simulator/index.js';
import { FAST, obj, req, run, sandbox, SCOPE, sse } from './client.js';

test('several simulators in one process keep separate state and options', async () => {
  const a = await startSimulator({ ...FAST, prepareShape: 'legacy' });
  const b = await startSimulator({ ...FAST, apiKeys: [{ key: 'tl_b_key', organizationId: 'org_b', projectId: 'proj_b' }] });
  try {
    assert.notEqual(a.port, b.port);
    assert.equal((await req(a, 'POST', '/platform/v1/keys/introspect')).status, 200);
    assert.equal((await req(b, 'POST', '/platform/v1/keys/introspect')).status, 401, 'b has other keys');
    assert.deepEqual(obj(await req(b, 'POST', '/platform/v1/keys/introspect', { token: 'tl_b_key' })).organizationId, 'org_b');
    a.addFaults({ kind: 'status', status: 500, times: -1 });
    assert.equal(
      (await req(b, 'GET', '/platform/v1/organizations/org_b/projects/proj_b/sandbox-templates', { token: 'tl_b_key' })).status,
      200,
    );
    assert.equal(b.state().faults.length, 0);
    assert.equal(a.state().requests.length, 1);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('stop() closes open SSE follow streams and keep-alive sockets promptly', async () => {
  const sim = await startSimulator({ ...FAST });
  const id = await sandbox(sim);
  const p = obj(await req(sim, 'POST', '/api/v1/processes', { sandbox: id, json: { command: 'sleep', args: ['60'] } }));
  const follow = sse(sim, 'GET', `/api/v1/processes/${p.pid as number}/output/follow`, { sandbox: id });
  await new Promise((r) => setTimeout(r, 50));
  const t0 = Date.now();
  await sim.stop();
  const res = await follow;
  assert.ok(Date.now() - t0 < 1000, `stop took ${Date.now() - t0} ms`);
  assert.equal(res.aborted, true);
  await assert.rejects(req(sim, 'GET', `${SCOPE}/sandbox-templates`), /ECONNREFUSED/);
});

test('run payload timeout kills the process; follow of a running process goes live', async () => {
  const sim = await startSimulator({ ...FAST });
  try {
    const id = await sandbox(sim);
    const r = await sse(sim, 'POST', '/api/v1/processes/run', { sandbox: id, json: { command: 'sleep', args: ['30'], timeout: 0.05 } });
    assert.deepEqual(r.events.at(-1), { oom_killed: false, signal: 9, ended_at: r.events.at(-1)!.ended_at });
    const done = await run(sim, id, 'sleep', ['0.05']);
    assert.deepEqual([done.info.status, done.info.exit_code], ['exited', 0]);
    const bad = await run(sim, id, 'sleep', ['soon']);
    assert.deepEqual([bad.info.exit_code, bad.lines[0].line], [1, "sleep: invalid time interval 'soon'"]);
  } finally {
    await sim.stop();
  }
});

test('a chunked body over the limit gets a 413 answer (not a reset), and the server stays up', async () => {
  const small = await startSimulator({ quiet: true, maxBodyBytes: 1024 });
  try {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const r = request(
        `${small.url}/v1/namespaces/default/sandboxes`,
        {
          method: 'POST',
          headers: { authorization: 'Bearer tl_sim_key_0123456789', 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      r.on('error', reject);
      r.write(Buffer.alloc(4096, 0x20));
      r.end();
    });
    assert.equal(status, 413);
    const health = await fetch(`${small.url}/_sim/state`);
    assert.equal(health.status, 200);
  } finally {
    await small.stop();
  }
});
