/**
 * The fault matrix: one end-to-end run of dist/index.js per fault kind of the simulator. Each
 * asserts the outcome (success, or failure with the expected message), that no builder sandbox is
 * left running, that no secret is visible anywhere, and that nothing crashed with a stack trace.
 */
import { describe, it, beforeAll } from '@jest/globals';
import assert from 'node:assert/strict';
import {
  appProject,
  dockerLogin,
  run,
  assertNoSandboxRunning,
  assertNoSecrets,
  simulatorForSuite,
  SIM_KEY,
  type SimulatorHandle,
  type ActionRun,
} from './support.js';

const ORG = '/platform/v1/organizations/org_sim/projects/proj_sim';

function noCrash(r: ActionRun): void {
  const text = r.stdout + r.stderr;
  assert.doesNotMatch(text, /\n\s+at .+\.(js|ts|mjs):\d+:\d+/, 'no stack trace');
  assert.doesNotMatch(text, /crashed|Unhandled|TypeError|ReferenceError/);
}

function failedWith(r: ActionRun, re: RegExp): void {
  assert.equal(r.code, 1, r.stdout.slice(-3000));
  assert.equal(r.outputs.status, 'failed');
  const err = r.annotations.find((a) => a.level === 'error');
  assert.ok(err, 'one error annotation');
  assert.match(err.message, re);
  assert.match(r.summary, /❌|🚫/);
}

function buildGroupLines(r: ActionRun): string[] {
  const out: string[] = [];
  let inBuild = false;
  for (const line of r.stdout.split('\n')) {
    if (line === '::group::Build') inBuild = true;
    else if (line === '::endgroup::') inBuild = false;
    else if (inBuild && !line.startsWith('::')) out.push(line);
  }
  return out.filter((l) => !/^(Running offline rootfs builder|Build: |process (output )?stream|process start attempt)/.test(l));
}

describe('fault matrix (dist/index.js against injected faults)', () => {
  let s: SimulatorHandle;
  let secrets: string[];
  let env: Record<string, string>;
  simulatorForSuite((h) => (s = h));
  beforeAll(async () => {
    const login = await dockerLogin();
    env = login.env;
    secrets = [SIM_KEY, ...login.secrets];
  });

  const go = async (inputs: Record<string, string> = {}, dockerfile?: string) => {
    const r = await run(s, await appProject({}, dockerfile), inputs, { env });
    noCrash(r);
    assertNoSecrets(r, secrets, s);
    return r;
  };

  it('429 with Retry-After on every endpoint: retried after the announced wait, build succeeds', async () => {
    const endpoints: [string, string][] = [
      ['POST', '/platform/v1/keys/introspect'],
      ['GET', `${ORG}/sandbox-templates/by-name/*`],
      ['POST', `${ORG}/sandbox-template-builds`],
      ['POST', '/v1/namespaces/default/sandboxes'],
      ['GET', '/v1/namespaces/default/sandboxes/*'],
      ['POST', '/api/v1/processes'],
      ['GET', '/api/v1/processes/*/output/follow'],
      ['GET', '/api/v1/processes/*'],
      ['POST', '/api/v1/blob/sign'],
      ['PUT', '/api/v1/files'],
      ['DELETE', '/api/v1/files'],
      ['GET', '/api/v1/files'],
      ['POST', `${ORG}/sandbox-template-builds/*/complete`],
      ['GET', `${ORG}/sandbox-template-builds/*`],
      ['DELETE', '/v1/namespaces/default/sandboxes/*'],
    ];
    const rules = s.addFaults(
      endpoints.map(([method, path]) => ({
        kind: 'status' as const,
        method,
        path,
        status: 429,
        headers: { 'Retry-After': '1' },
        body: { error: 'rate limited' },
      })),
    );
    const t0 = Date.now();
    const r = await go({ streaming: 'true' });
    assert.equal(r.code, 0, r.stdout.slice(-3000));
    assert.equal(r.outputs.status, 'registered');
    const hits = s.state().faults.filter((f) => rules.some((x) => x.id === f.id));
    assert.deepEqual(
      hits.filter((f) => f.hits !== 1).map((f) => `${f.id}: ${f.hits}`),
      [],
      'every endpoint got its 429 once',
    );
    assert.ok(Date.now() - t0 >= endpoints.length * 1000, 'each Retry-After was honoured');
    assert.ok(
      r.lines.filter((l) => /HTTP 429.*Retry-After 1s\); retrying in 1s/.test(l)).length >= endpoints.length - 1,
      'retries are announced',
    );
  });

  it('502/503 bursts on reads and on prepare are retried', async () => {
    s.addFaults([
      { kind: 'status', method: 'GET', path: `${ORG}/sandbox-templates/by-name/*`, status: 502, times: 3 },
      { kind: 'status', method: 'POST', path: `${ORG}/sandbox-template-builds`, status: 503, headers: { 'Retry-After': '0' }, times: 2 },
      { kind: 'status', method: 'GET', path: '/v1/namespaces/default/sandboxes/*', status: 503, times: 3 },
      { kind: 'status', method: 'GET', path: '/api/v1/processes/*', status: 502, times: 2 },
    ]);
    const r = await go();
    assert.equal(r.code, 0, r.stdout.slice(-3000));
    assert.ok(
      s.state().faults.every((f) => f.hits === f.times),
      'every burst was fully consumed',
    );
  });

  it('prepare answered 502/503 without Retry-After is retried like a read (it allocates nothing a retry could leak)', async () => {
    s.addFaults([
      { kind: 'status', method: 'POST', path: `${ORG}/sandbox-template-builds`, status: 502, times: 1 },
      { kind: 'status', method: 'POST', path: `${ORG}/sandbox-template-builds`, status: 503, times: 1 },
    ]);
    const r = await go();
    assert.equal(r.code, 0, r.stdout.slice(-3000));
    assert.ok(
      s.state().faults.every((f) => f.hits === 1),
      'both answers were retried',
    );
  });

  it('a prepare that keeps failing with 500 ends with the platform error', async () => {
    s.addFaults({
      kind: 'status',
      method: 'POST',
      path: `${ORG}/sandbox-template-builds`,
      status: 500,
      body: { error: 'database unavailable' },
      times: -1,
    });
    const r = await go();
    failedWith(r, /failed to prepare sandbox image build \(HTTP 500.*database unavailable/);
  });

  it('ambiguous sandbox create (reset after the server acted): found by name, no second sandbox, no leak', async () => {
    const before = s.state().sandboxes.length;
    s.addFaults({ kind: 'reset', method: 'POST', path: '/v1/namespaces/default/sandboxes', when: 'after' });
    const r = await go();
    assert.equal(r.code, 0, r.stdout.slice(-3000));
    assert.equal(s.state().sandboxes.length, before + 1, 'exactly one sandbox was created');
  });

  it('ambiguous complete (reset after the server acted): reconciled by reading the build, not re-sent', async () => {
    s.addFaults({ kind: 'reset', method: 'POST', path: `${ORG}/sandbox-template-builds/*/complete`, when: 'after' });
    const r = await go({ streaming: 'true' });
    assert.equal(r.code, 0, r.stdout.slice(-3000));
    const build = s.state().builds.find((b) => b.buildId === r.outputs['build-id'])!;
    assert.equal(build.completeRequests.length, 1, 'complete sent once');
    assert.equal(build.status, 'completed');
  });

  it('dropped SSE follow mid-build: reattached, no builder line lost or duplicated', async () => {
    s.addFaults({ kind: 'dropStream', path: '/api/v1/processes/*/output/follow', command: 'tl-rootfs-build', afterLines: 5, times: 2 });
    const r = await go();
    assert.equal(r.code, 0, r.stdout.slice(-3000));
    assert.match(r.stdout, /process stream interrupted; reattaching to process \d+/);
    const sb = s.state().sandboxes.find((x) => x.id === r.outputs['builder-sandbox-id'])!;
    const builder = sb.processes.find((p) => p.command.endsWith('tl-rootfs-build'))!;
    const expected = builder.output.map((o) => o.line);
    assert.deepEqual(buildGroupLines(r), expected, 'every builder line exactly once, in order, as the builder wrote it');
    assert.equal(s.state().faults[0].hits, 2, 'the builder stream was cut twice');
  });

  it('sandbox stuck pending: fails after sandbox-timeout, naming the input, sandbox deleted', async () => {
    s.addFaults({ kind: 'sandboxPending', pendingMs: 60_000 });
    const r = await go({ 'sandbox-timeout': '2s' });
    failedWith(r, /did not reach 'running' within 2s \(sandbox-timeout\)/);
    assert.match(r.stdout, /raise the sandbox-timeout input/);
    assert.match(r.stdout, /Deleted builder sandbox/);
  });

  it('a sandbox status read that never answers: the wait ends at the sandbox-timeout, not at an idle timer', async () => {
    s.addFaults({ kind: 'delay', method: 'GET', path: '/v1/namespaces/default/sandboxes/*', delayMs: 600_000, times: -1 });
    const t0 = Date.now();
    const r = await go({ 'sandbox-timeout': '3s' });
    const took = Date.now() - t0;
    failedWith(r, /within 3s \(sandbox-timeout\)/);
    assert.ok(took < 30_000, `the step ended after ${took} ms`);
    s.clearFaults(); // the cleanup's own reads answer again
  });

  it('an admission poll that never answers: the wait ends at the admission-timeout', async () => {
    s.addFaults([
      { kind: 'admissionHang' },
      { kind: 'delay', method: 'GET', path: `${ORG}/sandbox-template-builds/*`, delayMs: 600_000, times: -1 },
    ]);
    const t0 = Date.now();
    const r = await go({ streaming: 'true', 'admission-timeout': '2s' });
    const took = Date.now() - t0;
    failedWith(r, /timed out waiting for the streaming image admission after 2s \(admission-timeout\)/);
    assert.ok(took < 40_000, `the step ended after ${took} ms`);
  });

  it('proxy answering 502 to every process call: the readiness probe, retries included, ends at the sandbox-timeout', async () => {
    s.addFaults([
      { kind: 'status', method: 'POST', path: '/api/v1/processes', status: 502, times: -1 },
      { kind: 'status', method: 'GET', path: '/api/v1/processes', status: 502, times: -1 },
    ]);
    const t0 = Date.now();
    const r = await go({ 'sandbox-timeout': '3s' });
    failedWith(r, /builder sandbox proxy did not become ready within 3s \(sandbox-timeout\)/);
    assert.ok(Date.now() - t0 < 15_000, `bounded by the sandbox-timeout, took ${Date.now() - t0} ms`);
  });

  it('a follow stream that never answers: the readiness probe ends at the sandbox-timeout instead of hanging', async () => {
    s.addFaults({ kind: 'delay', method: 'GET', path: '/api/v1/processes/*/output/follow', delayMs: 120_000, times: -1 });
    const t0 = Date.now();
    const r = await go({ 'sandbox-timeout': '3s' });
    failedWith(r, /did not become ready within 3s \(sandbox-timeout\)/);
    assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
  });

  it('sandbox terminated mid-build: fails fast, says the platform terminated it and why, with the ids', async () => {
    s.addFaults({ kind: 'terminateSandbox', afterBuilderLines: 3, reason: 'host maintenance' });
    const before = s.state().requests.length;
    const r = await go();
    failedWith(
      r,
      /the builder sandbox \S+ was terminated by the platform \(host maintenance\) during the Build phase[\s\S]*\(builder sandbox: \S+, build: \S+\)/,
    );
    // a 404/410 from the proxy is final: counted in the simulator's log, not timed
    const gone = s
      .state()
      .requests.slice(before)
      .filter((q) => q.role === 'proxy' && (q.status === 404 || q.status === 410));
    assert.ok(
      gone.length >= 1 && gone.length <= 2,
      `a 404/410 is final, not retried: ${gone.map((q) => `${q.method} ${q.path} ${q.status}`).join(', ')}`,
    );
  });

  it('builder exits non-zero: the exit code and the ids', async () => {
    s.addFaults({ kind: 'builderFail', exitCode: 2, message: 'failed to solve: process "/bin/sh -c make" did not complete successfully' });
    const r = await go();
    failedWith(r, /Command '\/usr\/local\/bin\/tl-rootfs-build' failed with exit code 2/);
    assert.match(r.stdout, /failed to solve/);
  });

  it('builder OOM: OOM in the message and memory advice', async () => {
    s.addFaults({ kind: 'builderOom' });
    const r = await go();
    failedWith(r, /killed by the kernel OOM killer[\s\S]*memory-mb/);
  });

  it('builder ENOSPC: disk advice', async () => {
    s.addFaults({ kind: 'builderEnospc' });
    const r = await go();
    failedWith(r, /builder-disk-mb/);
  });

  it('disk advice from df alone (a full disk the log does not mention)', async () => {
    s.addFaults({ kind: 'builderEnospc', logLines: false });
    const r = await go();
    failedWith(r, /builder-disk-mb/);
    assert.doesNotMatch(r.stdout, /no space left/i, 'the evidence came from df, not from the log');
  });

  it('memory advice from the process status alone (dmesg shows nothing)', async () => {
    s.addFaults({ kind: 'builderOom', dmesg: false });
    const r = await go();
    failedWith(r, /killed by the kernel OOM killer[\s\S]*memory-mb/);
  });

  it('no advice for an ordinary builder failure', async () => {
    s.addFaults({ kind: 'builderFail', exitCode: 3 });
    const r = await go();
    failedWith(r, /exit code 3/);
    assert.doesNotMatch(r.annotations.find((a) => a.level === 'error')!.message, /memory-mb|builder-disk-mb/);
  });

  it('admission failed / corrupt chunk / missing chunk: precise admission errors', async () => {
    s.addFaults({ kind: 'corruptChunk', chunkIndex: 0 });
    const corrupt = await go({ streaming: 'true' });
    failedWith(corrupt, /streaming image admission failed: .*(digest|sha256|corrupt)/i);
    assertNoSandboxRunning(s);
    s.clearFaults();
    s.addFaults({ kind: 'dropChunk', chunkIndex: 1 });
    const missing = await go({ streaming: 'true' });
    failedWith(missing, /streaming image admission failed: .*(missing|not found)/i);
  });

  it('admission never finishing: admission-timeout with advice', async () => {
    s.addFaults({ kind: 'admissionHang' });
    const r = await go({ streaming: 'true', 'admission-timeout': '1500ms', 'poll-interval': '300ms' });
    failedWith(r, /timed out waiting for the streaming image admission after 1\.5s \(admission-timeout\)/);
  });

  it('malformed responses: HTML page, empty 2xx, wrong types, invalid JSON — clear errors', async () => {
    const cases: { rule: Parameters<SimulatorHandle['addFaults']>[0]; re: RegExp }[] = [
      {
        rule: {
          kind: 'status',
          method: 'POST',
          path: `${ORG}/sandbox-template-builds`,
          status: 502,
          body: '<html><body><h1>502 Bad Gateway</h1></body></html>',
          times: 10,
        },
        re: /prepare.*502/i,
      },
      {
        rule: { kind: 'status', method: 'POST', path: '/platform/v1/keys/introspect', status: 200, body: '' },
        re: /invalid API key introspection response: body is empty \(expected JSON\)/,
      },
      {
        rule: {
          kind: 'status',
          method: 'POST',
          path: `${ORG}/sandbox-template-builds`,
          status: 200,
          body: { buildId: 42, snapshotId: [] },
        },
        re: /invalid prepare response: .*(buildId|snapshotId|builder)/,
      },
      {
        rule: {
          kind: 'status',
          method: 'POST',
          path: '/v1/namespaces/default/sandboxes',
          status: 200,
          body: '{"sandbox_id": "x",',
          contentType: 'application/json',
        },
        re: /invalid sandbox create response: body is not valid JSON/,
      },
    ];
    for (const c of cases) {
      s.addFaults(c.rule);
      const r = await go({}, undefined);
      failedWith(r, c.re);
      if (process.env.SHOW_ERRORS) console.log(r.annotations.find((a) => a.level === 'error')!.message);
      assertNoSandboxRunning(s);
      s.clearFaults();
    }
  });

  it('signed URLs inside answers that fail validation or carry an error status never show', async () => {
    const signed = 'https://bucket.s3.amazonaws.com/x/y.pack?X-Amz-Credential=AKIA123&X-Amz-Signature=0123456789abcdef';
    const cases: Parameters<SimulatorHandle['addFaults']>[0][] = [
      {
        kind: 'status',
        method: 'POST',
        path: `${ORG}/sandbox-template-builds`,
        status: 200,
        body: { buildId: 'b', upload: { url: signed } },
      },
      {
        kind: 'status',
        method: 'POST',
        path: `${ORG}/sandbox-template-builds`,
        // a final error status: prepare is retried on 5xx now (it allocates nothing), so one 500 no longer fails the build
        status: 422,
        body: `upstream said: could not presign ${signed} (quota)`,
        contentType: 'text/plain',
      },
      {
        kind: 'status',
        method: 'GET',
        path: `${ORG}/sandbox-template-builds/*`,
        status: 200,
        body: { status: 'completed', template: { id: 't', snapshotSizeBytes: -1, download: { url: signed } } },
        times: 5,
      },
    ];
    for (const rule of cases) {
      s.addFaults(rule);
      const r = await go({ streaming: 'true' });
      assert.equal(r.code, 1, r.stdout.slice(-2000));
      assertNoSecrets(r, [signed, signed.slice(signed.indexOf('?') + 1)]);
      assert.ok(r.stdout.includes(`::add-mask::${signed}`), 'the URL was masked for the runner too');
      assertNoSandboxRunning(s);
      s.clearFaults();
    }
  });

  it('a signed URL in a builder log line is masked before it prints', async () => {
    const sig = 'fe01dc23ba45987600112233';
    const url = `https://b.s3.amazonaws.com/x?X-Amz-Signature=${sig}`;
    const df = `FROM python:3.12-slim\nRUN curl -fsSL "${url}" -o /x\n`;
    const r = await go({}, df);
    assert.equal(r.code, 0, r.stdout.slice(-2000));
    assert.ok(
      buildGroupLines(r).some((l) => l.includes('curl -fsSL') && l.includes('***')),
      'the line is shown, masked',
    );
    assertNoSecrets(r, [sig]);
    assert.ok(r.stdout.includes(`::add-mask::${url}`), 'masked for the runner too');
  });

  it('auth failure: 401 names the credential to fix; nothing retried', async () => {
    s.addFaults({ kind: 'rejectAuth', times: -1 });
    const r = await go();
    failedWith(r, /API key introspection failed \(HTTP 401/);
    assert.equal(s.state().faults[0].hits, 1, 'a 401 is not retried');
  });
});

describe('a sandbox whose create answer never arrived', () => {
  let s: SimulatorHandle;
  simulatorForSuite((h) => (s = h));

  it('SIGINT while the create is in flight: the sandbox is found by its name and deleted', async () => {
    s.addFaults({ kind: 'delay', method: 'POST', path: '/v1/namespaces/default/sandboxes', delayMs: 3000, when: 'after' });
    const before = s.state().sandboxes.length;
    const r = await run(
      s,
      await appProject(),
      {},
      { killOn: { pattern: /Creating rootfs builder sandbox/, signal: 'SIGINT', delayMs: 700 } },
    );
    noCrash(r);
    assertNoSecrets(r, [SIM_KEY], s);
    assert.equal(r.code, 1);
    const created = s.state().sandboxes.slice(before);
    assert.equal(created.length, 1, 'the server created the sandbox');
    assert.equal(created[0].status, 'terminated', 'and the action deleted it by name');
    assert.match(r.stdout, /Deleted builder sandbox \S+ \(found by its name sbx-image-/);
    assert.deepEqual(JSON.parse(r.state['builder-sandbox-names'] ?? '[]'), [], 'nothing left for the post step');
  });

  it('SIGINT before the server acts on the create, which lands later: cleanup keeps looking and deletes it', async () => {
    s.addFaults({ kind: 'delay', method: 'POST', path: '/v1/namespaces/default/sandboxes', delayMs: 1500, detached: true });
    const before = s.state().sandboxes.length;
    const r = await run(
      s,
      await appProject(),
      {},
      { killOn: { pattern: /Creating rootfs builder sandbox/, signal: 'SIGINT', delayMs: 300 } },
    );
    noCrash(r);
    assert.equal(r.code, 1);
    const created = s.state().sandboxes.slice(before);
    assert.equal(created.length, 1, 'the create landed after the client gave up');
    assert.equal(created[0].status, 'terminated', 'and cleanup, looking again, deleted it');
    assert.ok(r.exitAfterSignalMs! < 5000, `within the 5 s budget (${r.exitAfterSignalMs} ms)`);
    assert.deepEqual(JSON.parse(r.state['builder-sandbox-names'] ?? '[]'), []);
  });

  it('main killed while the create is in flight: the post step finds it by name', async () => {
    s.addFaults({ kind: 'delay', method: 'POST', path: '/v1/namespaces/default/sandboxes', delayMs: 3000, when: 'after' });
    const ws = await appProject();
    const before = s.state().sandboxes.length;
    const main = await run(s, ws, {}, { killOn: { pattern: /Creating rootfs builder sandbox/, signal: 'SIGKILL', delayMs: 700 } });
    assert.equal(main.signal, 'SIGKILL');
    const names = JSON.parse(main.state['builder-sandbox-names']) as string[];
    assert.equal(names.length, 1);
    assert.equal(main.state['builder-sandboxes'], undefined, 'no id was ever known');
    // the server finishes the create after the main step died
    for (let i = 0; i < 50 && s.state().sandboxes.length === before; i++) await new Promise((r) => setTimeout(r, 100));
    const post = await run(s, ws, {}, { post: true, state: { 'builder-sandbox-names': main.state['builder-sandbox-names'] } });
    assert.equal(post.code, 0, post.stdout + post.stderr);
    assert.match(post.stdout, new RegExp(`deleted builder sandbox \\S+ \\(named ${names[0]}\\)`));
  });

  it('a 2xx create answer that cannot be decoded: the sandbox exists, is found by its name, used and deleted', async () => {
    const bodies: { body: string | Record<string, string>; contentType?: string }[] = [
      { body: '{"sandbox_id": "x",', contentType: 'application/json' },
      { body: '' },
      { body: '<html><body>OK</body></html>' },
      { body: { id: 'sbx-elsewhere', status: 'pending' } },
    ];
    for (const b of bodies) {
      s.addFaults({ kind: 'status', method: 'POST', path: '/v1/namespaces/default/sandboxes', status: 200, when: 'after', ...b });
      const before = s.state().sandboxes.length;
      const r = await run(s, await appProject(), {});
      noCrash(r);
      assertNoSecrets(r, [SIM_KEY], s);
      const created = s.state().sandboxes.slice(before);
      assert.equal(created.length, 1, `the server created one sandbox (${JSON.stringify(b.body)})`);
      assert.equal(created[0].status, 'terminated', `and it was deleted (${JSON.stringify(b.body)}): ${r.stdout.slice(-1500)}`);
      assert.equal(r.code, 0, r.stdout.slice(-2000));
      assert.deepEqual(JSON.parse(r.state['builder-sandbox-names'] ?? '[]'), [], 'nothing left for the post step');
      s.clearFaults();
    }
  });

  it('a create that lands 8 s after a SIGINT: the post step keeps looking through the landing window and deletes it', async () => {
    s.addFaults({ kind: 'delay', method: 'POST', path: '/v1/namespaces/default/sandboxes', delayMs: 8000, detached: true });
    const ws = await appProject();
    const before = s.state().sandboxes.length;
    const main = await run(s, ws, {}, { killOn: { pattern: /Creating rootfs builder sandbox/, signal: 'SIGINT', delayMs: 300 } });
    assert.equal(main.code, 1);
    assert.equal(s.state().sandboxes.length, before, 'the create has not landed when the main step ends');
    const state = Object.fromEntries(Object.entries(main.state).filter(([k]) => k.startsWith('builder-sandbox')));
    assert.equal((JSON.parse(state['builder-sandbox-names']) as string[]).length, 1, 'the name is left for the post step');
    const post = await run(s, ws, {}, { post: true, state });
    assert.equal(post.code, 0, post.stdout + post.stderr);
    const created = s.state().sandboxes.slice(before);
    assert.equal(created.length, 1, 'the create landed');
    assert.equal(created[0].status, 'terminated', `and the post step deleted it: ${post.stdout}`);
  });

  it('ambiguous create answered 409 on the retry: the first sandbox is adopted, not leaked', async () => {
    s.addFaults([
      { kind: 'reset', method: 'POST', path: '/v1/namespaces/default/sandboxes', when: 'after' },
      { kind: 'status', method: 'GET', path: '/v1/namespaces/default/sandboxes', status: 200, body: { sandboxes: [] } },
      {
        kind: 'status',
        method: 'POST',
        path: '/v1/namespaces/default/sandboxes',
        status: 409,
        body: { error: 'a sandbox with this name already exists' },
      },
    ]);
    const before = s.state().sandboxes.length;
    const r = await run(s, await appProject(), {});
    noCrash(r);
    assert.equal(r.code, 0, r.stdout.slice(-3000));
    assert.equal(s.state().sandboxes.length, before + 1, 'one sandbox, adopted');
  });
});

describe('cancellation: SIGINT at each phase', () => {
  let s: SimulatorHandle;
  simulatorForSuite((h) => (s = h), { builderLineDelayMs: 200 });

  const phases: {
    name: string;
    at: RegExp;
    faults?: Parameters<SimulatorHandle['addFaults']>[0];
    inputs?: Record<string, string>;
    sandbox: boolean;
  }[] = [
    {
      name: 'prepare',
      at: /Preparing rootfs build/,
      faults: { kind: 'delay', method: 'POST', path: `${ORG}/sandbox-template-builds`, delayMs: 5000 },
      sandbox: false,
    },
    { name: 'builder sandbox', at: /Builder sandbox \S+ created/, faults: { kind: 'sandboxPending', pendingMs: 30_000 }, sandbox: true },
    {
      name: 'upload',
      at: /Uploading build context\.\.\./,
      faults: { kind: 'delay', method: 'PUT', path: '/api/v1/files', delayMs: 5000 },
      sandbox: true,
    },
    { name: 'build', at: /::group::Build\n[\s\S]*#\d/, sandbox: true },
    {
      name: 'complete',
      at: /Submitting the image for verification/,
      faults: { kind: 'delay', method: 'POST', path: `${ORG}/sandbox-template-builds/*/complete`, delayMs: 5000 },
      inputs: { streaming: 'true' },
      sandbox: true,
    },
    { name: 'admission', at: /Admission: ingesting/, faults: { kind: 'admissionHang' }, inputs: { streaming: 'true' }, sandbox: true },
  ];

  for (const p of phases) {
    it(`SIGINT during ${p.name}: stops, deletes the sandbox within 5 s, summary says cancelled`, async () => {
      if (p.faults) s.addFaults(p.faults);
      const before = s.state().sandboxes.length;
      const r = await run(s, await appProject(), p.inputs ?? {}, {
        killOn: { pattern: p.at, signal: 'SIGINT' },
      });
      noCrash(r);
      assertNoSecrets(r, [SIM_KEY], s);
      assert.equal(r.code, 1, r.stdout.slice(-2000));
      assert.match(r.stdout, /Received SIGINT: cancelling the build/);
      assert.match(r.stdout, /::error::Cancelled: /);
      assert.match(r.summary, /🚫 .*cancelled/);
      assert.equal(r.outputs.status, 'failed');
      const created = s.state().sandboxes.slice(before);
      assert.equal(created.length > 0, p.sandbox, 'sandbox created iff the phase is after create');
      for (const sb of created) {
        assert.equal(sb.status, 'terminated');
        assert.ok(sb.deletedAt, 'deleted by the action, not by the platform');
      }
      assert.deepEqual(JSON.parse(r.state['builder-sandboxes'] ?? '[]'), [], 'nothing left for the post step');
      if (process.env.SHOW_TIMING) console.log(`${p.name}: exited ${r.exitAfterSignalMs} ms after SIGINT`);
      assert.ok(r.exitAfterSignalMs! < 5000, `exited ${r.exitAfterSignalMs} ms after SIGINT (GitHub sends SIGTERM at 7.5 s)`);
    });
  }
});
