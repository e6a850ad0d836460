/** Lifecycle (§5) and proxy (§6, §7, §10) roles: routing, processes, SSE replay, files, tar, blob/sign, builder checks. */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, test } from '@jest/globals';
import { startSimulator, type SimulatorHandle } from '../../simulator/index.js';
import { BUILD_DIR, buildFlow, FAST, obj, ORG, PAT, PROJ, req, run, sandbox, sse, tarGz } from './client.js';

let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator({
    ...FAST,
    apiKeys: [
      { key: 'tl_sim_key_0123456789', organizationId: ORG, projectId: PROJ },
      { key: 'tl_other_key', organizationId: 'org_other', projectId: 'proj_other' },
    ],
  });
});
afterAll(() => sim.stop());

const fileUrl = (p: string): string => `/api/v1/files?path=${encodeURIComponent(p)}`;

test('lifecycle: create → pending → running, SandboxInfo shape, name echo, list, delete, 404s', async () => {
  // pending long enough for four requests on a loaded machine, then running
  sim.addFaults({ kind: 'sandboxPending', pendingMs: 1000 });
  const c = await req(sim, 'POST', '/v1/namespaces/default/sandboxes', {
    json: { image: 'img', resources: { cpus: 1.5, memory_mb: 2048, disk_mb: 4096 }, timeout_secs: 300, name: 'tl-build-abc' },
  });
  assert.equal(c.status, 200);
  const created = obj(c);
  assert.deepEqual(Object.keys(created).sort(), ['name', 'routing_hint', 'sandbox_id', 'sandbox_url', 'status']);
  assert.equal(created.status, 'pending');
  assert.equal(created.sandbox_url, sim.url);
  assert.equal(created.name, 'tl-build-abc');
  const dup = await req(sim, 'POST', '/v1/namespaces/default/sandboxes', { json: { image: 'img', name: 'tl-build-abc' } });
  assert.equal(dup.status, 409);
  const badName = await req(sim, 'POST', '/v1/namespaces/default/sandboxes', { json: { image: 'img', name: '../x' } });
  assert.equal(badName.status, 400);
  const id = created.sandbox_id as string;
  const first = obj(await req(sim, 'GET', `/v1/namespaces/default/sandboxes/${id}`));
  assert.equal(first.status, 'pending');
  await new Promise((r) => setTimeout(r, 1100));
  const info = obj(await req(sim, 'GET', `/v1/namespaces/default/sandboxes/${id}`));
  assert.equal(info.status, 'running');
  assert.equal(info.namespace, 'default');
  assert.deepEqual(info.resources, { cpus: 1.5, memory_mb: 2048, ephemeral_disk_mb: 4096 });
  assert.equal(info.sandbox_id, id);
  assert.equal(info.id, undefined, 'only sandbox_id: the real SDK rejects both (duplicate field)');
  const list = obj(await req(sim, 'GET', '/v1/namespaces/default/sandboxes?name=tl-build-abc'));
  assert.deepEqual(
    list.sandboxes.map((s: { sandbox_id: string }) => s.sandbox_id),
    [id],
  );
  // another project sees nothing; another namespace sees nothing
  assert.equal((await req(sim, 'GET', `/v1/namespaces/default/sandboxes/${id}`, { token: 'tl_other_key' })).status, 404);
  assert.equal((await req(sim, 'GET', `/v1/namespaces/other/sandboxes/${id}`)).status, 404);
  // hosted-style paths work too
  assert.equal(obj(await req(sim, 'GET', `/sandboxes/${id}`)).status, 'running');
  const del = await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${id}`);
  assert.equal(del.status, 200);
  const gone = obj(await req(sim, 'GET', `/v1/namespaces/default/sandboxes/${id}`));
  assert.equal(gone.status, 'terminated');
  assert.equal(gone.termination_reason, 'deleted by client');
  const again = await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${id}`);
  assert.deepEqual([again.status, obj(again).code], [404, 'SANDBOX_NOT_FOUND']);
  const st = sim.state().sandboxes.find((s) => s.id === id)!;
  assert.ok(st.deletedAt && st.createdAt && st.runningAt);
});

test('proxy routing: header or Host, unknown 404, pending 400 not running, terminated 410, mismatch 400, scope 403', async () => {
  const id = await sandbox(sim);
  assert.deepEqual((await req(sim, 'GET', '/api/v1/health', { sandbox: id })).body, { healthy: true });
  assert.deepEqual((await req(sim, 'GET', '/api/v1/health', { sandbox: id, viaHost: true })).body, { healthy: true });
  const none = await req(sim, 'GET', '/api/v1/health');
  assert.deepEqual([none.status, obj(none).code], [400, 'SANDBOX_ID_REQUIRED']);
  const unknown = await req(sim, 'GET', '/api/v1/health', { sandbox: 'sbx-nope' });
  assert.deepEqual([unknown.status, obj(unknown).error], [404, "sandbox 'sbx-nope' not found"]);
  const mismatch = await req(sim, 'GET', '/api/v1/health', { sandbox: id, headers: { host: 'other.local' } });
  assert.equal(mismatch.status, 400);
  const foreign = await req(sim, 'GET', '/api/v1/health', { sandbox: id, token: 'tl_other_key' });
  assert.equal(foreign.status, 403);
  const noAuth = await req(sim, 'GET', '/api/v1/health', { sandbox: id, token: null });
  assert.equal(noAuth.status, 401);

  sim.addFaults({ kind: 'sandboxPending', pendingMs: 10_000 });
  const c = obj(await req(sim, 'POST', '/v1/namespaces/default/sandboxes', { json: { image: 'x' } }));
  const pending = await req(sim, 'GET', '/api/v1/health', { sandbox: c.sandbox_id });
  assert.deepEqual([pending.status, obj(pending).error], [400, `sandbox '${c.sandbox_id as string}' is not running (status: pending)`]);
  await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${c.sandbox_id as string}`);
  const term = await req(sim, 'GET', '/api/v1/health', { sandbox: c.sandbox_id });
  assert.deepEqual([term.status, obj(term).code], [410, 'SANDBOX_TERMINATED']);
  assert.match(obj(term).error, /is terminated \(deleted by client\)/);
  await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${id}`);
});

test('processes: exact command/args echo, list for recovery, follow replays the full history every time', async () => {
  const id = await sandbox(sim);
  const r = await run(sim, id, 'mkdir', ['-p', '/tmp/a b/c']);
  assert.equal(r.info.exit_code, 0);
  assert.deepEqual([r.info.command, r.info.args, r.info.status, r.info.oom_killed], ['mkdir', ['-p', '/tmp/a b/c'], 'exited', false]);
  const list = obj(await req(sim, 'GET', '/api/v1/processes', { sandbox: id }));
  assert.deepEqual(
    list.processes.map((p: { command: string; args: string[] }) => [p.command, p.args]),
    [['mkdir', ['-p', '/tmp/a b/c']]],
  );
  const echo = await run(sim, id, 'echo', ['hello', 'world']);
  assert.deepEqual(echo.lines, [{ line: 'hello world', stream: 'stdout' }]);
  // replay: two follows of a finished process both get everything, then close
  const f1 = await sse(sim, 'GET', `/api/v1/processes/${echo.pid}/output/follow`, { sandbox: id });
  const f2 = await sse(sim, 'GET', `/api/v1/processes/${echo.pid}/output/follow`, { sandbox: id });
  assert.equal(f1.contentType, 'text/event-stream');
  assert.deepEqual(f1.events, f2.events);
  assert.equal(f1.aborted, false);
  assert.ok(typeof f1.events[0].timestamp === 'string');
  const bad = await run(sim, id, '/bin/false');
  assert.deepEqual([bad.info.exit_code, bad.info.status], [1, 'exited']);
  const unknownCmd = await req(sim, 'POST', '/api/v1/processes', { sandbox: id, json: { command: '/usr/bin/curl', args: [] } });
  assert.deepEqual([unknownCmd.status, obj(unknownCmd).code], [500, 'PROCESS_START_FAILED']);
  const badPayload = await req(sim, 'POST', '/api/v1/processes', { sandbox: id, json: { command: 'echo', args: 'x' } });
  assert.deepEqual([badPayload.status, obj(badPayload).error], [400, "field 'args' must be an array of strings"]);
  assert.equal((await req(sim, 'GET', '/api/v1/processes/999', { sandbox: id })).status, 404);
  assert.equal((await req(sim, 'GET', '/api/v1/processes/abc', { sandbox: id })).status, 400);
  // live follow of a long process (the builder) replays from the start on a second follow
  const live = await req(sim, 'POST', '/api/v1/processes', { sandbox: id, json: { command: '/bin/sh', args: ['-lc', 'exit 3'] } });
  const st = obj(await req(sim, 'GET', `/api/v1/processes/${obj(live).pid as number}`, { sandbox: id }));
  assert.equal(st.exit_code, 3);
  await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${id}`);
});

test('permissions: the sandbox user cannot write below root-owned /var/lib/tensorlake until chmod 0777 (§6.5)', async () => {
  const id = await sandbox(sim);
  const asUser = await run(sim, id, 'mkdir', ['-p', BUILD_DIR]);
  assert.equal(asUser.info.exit_code, 1);
  assert.deepEqual(asUser.lines, [{ line: `mkdir: cannot create directory '${BUILD_DIR}': Permission denied`, stream: 'stderr' }]);
  assert.equal((await run(sim, id, 'mkdir', ['-p', BUILD_DIR], { user: 'root' })).info.exit_code, 0);
  const put1 = await req(sim, 'PUT', fileUrl(`${BUILD_DIR}/x`), { sandbox: id, raw: 'x' });
  assert.deepEqual([put1.status, obj(put1).error], [500, 'Failed to create file: Permission denied (os error 13)']);
  const chmodUser = await run(sim, id, 'chmod', ['0777', BUILD_DIR]);
  assert.equal(chmodUser.info.exit_code, 1);
  assert.equal((await run(sim, id, 'chmod', ['0777', BUILD_DIR], { user: 'root' })).info.exit_code, 0);
  assert.equal((await req(sim, 'PUT', fileUrl(`${BUILD_DIR}/x`), { sandbox: id, raw: 'x' })).status, 200);
  assert.equal((await run(sim, id, 'chmod', ['u+x', BUILD_DIR], { user: 'root' })).info.exit_code, 1);
  await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${id}`);
});

test('file API: PUT/GET/DELETE with ?path=, errors', async () => {
  const id = await sandbox(sim);
  const p = '/tmp/dir with space/data.bin';
  await run(sim, id, 'mkdir', ['-p', '/tmp/dir with space']);
  const bytes = Buffer.from([0, 1, 2, 255, 254]);
  assert.equal((await req(sim, 'PUT', fileUrl(p), { sandbox: id, raw: bytes })).status, 200);
  const got = await req(sim, 'GET', `/api/v1/files?path=${encodeURIComponent(p).replace(/%20/g, '+')}`, { sandbox: id });
  assert.equal(got.status, 200);
  assert.equal(got.headers['content-type'], 'application/octet-stream');
  assert.equal((await req(sim, 'DELETE', fileUrl(p), { sandbox: id })).status, 200);
  const missing = await req(sim, 'GET', fileUrl(p), { sandbox: id });
  assert.deepEqual([missing.status, obj(missing).error], [404, `File not found: ${p}`]);
  assert.equal((await req(sim, 'DELETE', fileUrl(p), { sandbox: id })).status, 404);
  const noParent = await req(sim, 'PUT', fileUrl('/nope/x'), { sandbox: id, raw: 'x' });
  assert.deepEqual([noParent.status, obj(noParent).error], [500, 'Failed to create file: No such file or directory (os error 2)']);
  assert.equal((await req(sim, 'PUT', '/api/v1/files', { sandbox: id, raw: 'x' })).status, 400);
  assert.equal((await req(sim, 'PUT', fileUrl('relative/x'), { sandbox: id, raw: 'x' })).status, 400);
  assert.equal((await req(sim, 'GET', fileUrl('/tmp'), { sandbox: id })).status, 400);
  assert.equal((await req(sim, 'POST', fileUrl('/tmp/x'), { sandbox: id })).status, 405);
  await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${id}`);
});

test('tar -xzf: files, directories, symlinks, hard links; escaping and corrupt archives fail like GNU tar', async () => {
  const id = await sandbox(sim);
  await run(sim, id, 'mkdir', ['-p', '/tmp/ctx', '/tmp/ctx2', '/tmp/ctx3', '/tmp/ctx4']);
  const up = async (name: string, buf: Buffer): Promise<void> => {
    assert.equal((await req(sim, 'PUT', fileUrl(`/tmp/${name}`), { sandbox: id, raw: buf })).status, 200);
  };
  await up(
    'good.tar.gz',
    await tarGz([
      { name: 'app/', type: 'directory', mode: 0o750 },
      { name: 'app/main.py', data: 'print(1)\n', mode: 0o755 },
      { name: 'app/link.py', type: 'symlink', linkname: 'main.py' },
      { name: 'app/hard.py', type: 'link', linkname: 'app/main.py', mode: 0o644 },
      { name: '/abs.txt', data: 'abs' },
    ]),
  );
  const ok = await run(sim, id, 'tar', ['-xzf', '/tmp/good.tar.gz', '-C', '/tmp/ctx']);
  assert.equal(ok.info.exit_code, 0, JSON.stringify(ok.lines));
  assert.deepEqual(ok.lines, [{ line: "tar: Removing leading `/' from member names", stream: 'stderr' }]);
  const ex = sim.state().sandboxes.find((s) => s.id === id)!.contextArchives[0];
  assert.deepEqual(
    ex.files.map((f) => [f.path, f.type, f.size, f.mode]),
    [
      ['app', 'directory', 0, 0o750],
      ['app/main.py', 'file', 9, 0o755],
      ['app/hard.py', 'hardlink', 9, 0o644],
      ['abs.txt', 'file', 3, 0o644],
      ['app/link.py', 'symlink', 0, 0o777],
    ],
  );
  assert.equal(ex.files[4].target, 'main.py');
  const viaLink = await req(sim, 'GET', fileUrl('/tmp/ctx/app/link.py'), { sandbox: id });
  assert.equal(viaLink.text, 'print(1)\n');

  await up(
    'evil.tar.gz',
    await tarGz([
      { name: '../escape.txt', data: 'x' },
      { name: 'out', type: 'symlink', linkname: '/etc' },
      { name: 'out/passwd', data: 'pwned' },
      { name: 'fine.txt', data: 'ok' },
    ]),
  );
  const evil = await run(sim, id, 'tar', ['-xzf', '/tmp/evil.tar.gz', '-C', '/tmp/ctx2']);
  assert.equal(evil.info.exit_code, 2);
  assert.deepEqual(
    evil.lines.map((l) => l.line),
    [
      "tar: ../escape.txt: Member name contains '..'",
      'tar: out/passwd: Cannot open: Not a directory',
      'tar: Exiting with failure status due to previous errors',
    ],
  );
  assert.equal((await req(sim, 'GET', fileUrl('/escape.txt'), { sandbox: id })).status, 404);
  assert.equal((await req(sim, 'GET', fileUrl('/etc/passwd'), { sandbox: id })).status, 404);
  assert.equal((await req(sim, 'GET', fileUrl('/tmp/ctx2/fine.txt'), { sandbox: id })).text, 'ok');

  await up('plain.tar.gz', Buffer.from('this is not gzip'));
  const notGz = await run(sim, id, 'tar', ['-xzf', '/tmp/plain.tar.gz', '-C', '/tmp/ctx3']);
  assert.equal(notGz.info.exit_code, 2);
  assert.deepEqual(
    notGz.lines.map((l) => l.line),
    ['gzip: stdin: not in gzip format', 'tar: Child returned status 1', 'tar: Error is not recoverable: exiting now'],
  );
  assert.ok(notGz.lines.every((l) => l.stream === 'stderr'));

  const good = await tarGz([{ name: 'a.txt', data: 'a'.repeat(5000) }]);
  await up('trunc.tar.gz', good.subarray(0, good.length - 20));
  const trunc = await run(sim, id, 'tar', ['-xzf', '/tmp/trunc.tar.gz', '-C', '/tmp/ctx3']);
  assert.equal(trunc.info.exit_code, 2);
  assert.equal(trunc.lines[0].line, 'gzip: stdin: unexpected end of file');

  await up('garbage.tar.gz', gzipSync(Buffer.alloc(1024, 7)));
  const garbage = await run(sim, id, 'tar', ['-xzf', '/tmp/garbage.tar.gz', '-C', '/tmp/ctx4']);
  assert.equal(garbage.info.exit_code, 2);
  assert.equal(garbage.lines[0].line, 'tar: This does not look like a tar archive');

  const missing = await run(sim, id, 'tar', ['-xzf', '/tmp/none.tar.gz', '-C', '/tmp/ctx4']);
  assert.equal(missing.info.exit_code, 2);
  assert.equal(missing.lines[0].line, 'tar (child): /tmp/none.tar.gz: Cannot open: No such file or directory');
  const noDest = await run(sim, id, 'tar', ['-xzf', '/tmp/good.tar.gz', '-C', '/tmp/nodir']);
  assert.deepEqual(
    noDest.lines.map((l) => l.line),
    ['tar: /tmp/nodir: Cannot open: No such file or directory', 'tar: Error is not recoverable: exiting now'],
  );
  await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${id}`);
});

test('blob/sign: put_artifact and get_blob shapes are validated', async () => {
  const id = await sandbox(sim);
  const sign = (json: unknown) => req(sim, 'POST', '/api/v1/blob/sign', { sandbox: id, json });
  const cases: Array<[unknown, number, RegExp]> = [
    [[], 400, /body must be a JSON object/],
    [{ op: { kind: 'get_blob' } }, 400, /missing 'target' object/],
    [{ target: { kind: 'artifact', rel_path: 'x' } }, 400, /missing 'op' object/],
    [{ target: { kind: 'artifact' }, op: { kind: 'put_artifact' } }, 400, /target.rel_path must be a non-empty string/],
    [
      { target: { kind: 'artifact', rel_path: 'x' }, op: { kind: 'get_blob' } },
      400,
      /op.kind 'get_blob' is not valid for target kind 'artifact'/,
    ],
    [
      {
        target: { kind: 'artifact', rel_path: 'x' },
        op: { kind: 'put_artifact', multipart_hint: { max_parts: 0, part_size_bytes: 67108864 } },
      },
      400,
      /max_parts must be an integer in \[1, 10000\]/,
    ],
    [
      {
        target: { kind: 'artifact', rel_path: 'x' },
        op: { kind: 'put_artifact', multipart_hint: { max_parts: 1, part_size_bytes: 'big' } },
      },
      400,
      /part_size_bytes/,
    ],
    [
      { target: { kind: 'artifact', rel_path: 'sandbox-template-builds/x/y.tlsnap' }, op: { kind: 'put_artifact' } },
      404,
      /no prepared build owns artifact path/,
    ],
    [{ target: { kind: 'blob', uri: 's3://nope' }, op: { kind: 'get_blob' } }, 404, /blob 's3:\/\/nope' not found/],
    [{ target: { kind: 'blob', uri: 's3://x' }, op: { kind: 'put_artifact' } }, 400, /not valid for target kind 'blob'/],
    [{ target: { kind: 'bucket' }, op: {} }, 400, /unknown target.kind 'bucket'/],
  ];
  for (const [body, status, re] of cases) {
    const r = await sign(body);
    assert.equal(r.status, status, JSON.stringify(body));
    assert.match(obj(r).error, re);
  }
  const parent = await sign({
    target: { kind: 'blob', uri: 's3://tl-sim-bucket/templates/tensorlake-base-1/snapshot.tlsnap' },
    op: { kind: 'get_blob' },
  });
  assert.equal(obj(parent).kind, 'presigned_get');
  const p = obj(
    await req(sim, 'POST', '/platform/v1/organizations/org_sim/projects/proj_sim/sandbox-template-builds', {
      json: {
        name: 'n',
        dockerfile: 'FROM a\n',
        baseImage: 'a',
        public: false,
        rootfsNodeKind: 'base',
        parentTemplate: null,
        additionalLocalImages: [],
      },
    }),
  );
  const up = obj(
    await sign({
      target: { kind: 'artifact', rel_path: p.snapshotRelPath },
      op: { kind: 'put_artifact', multipart_hint: { max_parts: 160, part_size_bytes: 67108864 } },
    }),
  );
  assert.equal(up.kind, 's3_multipart');
  assert.match(up.uri, /^s3:\/\/tl-sim-bucket\/dataplane\/org_sim\/proj_sim\/sandbox-template-builds\//);
  assert.equal(up.partUrls.length, 160);
  assert.equal(up.partSizeBytes, 67108864);
  assert.equal(sim.state().builds.find((b) => b.buildId === p.buildId)!.signedSnapshotUri, up.uri);
  await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${id}`);
});

test('builder checks its invocation and spec: missing args, not root, unreadable or invalid spec', async () => {
  const id = await sandbox(sim);
  const B = '/usr/local/bin/tl-rootfs-build';
  const noArgs = await run(sim, id, B, [], { user: 'root' });
  assert.equal(noArgs.info.exit_code, 2);
  assert.equal(noArgs.lines[0].line, 'error: the following required arguments were not provided:');
  const notRoot = await run(sim, id, B, ['--spec', '/tmp/s.json', '--metadata-out', '/tmp/m.json']);
  assert.equal(notRoot.info.exit_code, 1);
  assert.match(notRoot.lines[0].line, /must run as root/);
  const noSpec = await run(sim, id, B, ['--verbose', '--spec', '/tmp/s.json', '--metadata-out', '/tmp/m.json'], { user: 'root' });
  assert.equal(noSpec.info.exit_code, 1);
  assert.equal(noSpec.lines.at(-1)!.line, 'Error: failed to read spec /tmp/s.json: No such file or directory (os error 2)');
  const specs: Array<[unknown, RegExp]> = [
    ['not json', /failed to parse spec/],
    [{ buildId: 'b' }, /missing required field 'snapshotId'/],
    [
      {
        buildId: 'b',
        snapshotId: 's',
        dockerfile: 'FROM a',
        baseImage: 'a',
        contextDir: '/nope',
        rootfsNodeKind: 'base',
        rootfsDiskBytes: 1,
        builder: {},
      },
      /context directory \/nope does not exist/,
    ],
    [
      {
        buildId: 'b',
        snapshotId: 's',
        dockerfile: 'FROM a',
        baseImage: 'a',
        contextDir: '/tmp',
        rootfsNodeKind: 'base',
        rootfsDiskBytes: 1,
        builder: {},
        snapshotRelPath: 'x',
        snapshotUri: 's3://stale',
      },
      /missing 'upload': with snapshotRelPath the client must sign the upload/,
    ],
    [
      {
        buildId: 'b',
        snapshotId: 's',
        dockerfile: 'FROM a',
        baseImage: 'a',
        contextDir: '/tmp',
        rootfsNodeKind: 'base',
        rootfsDiskBytes: 1,
        builder: {},
        snapshotUri: 's3://x',
        upload: {},
      },
      /build 'b' is not known to the platform/,
    ],
    [
      {
        buildId: 'b',
        snapshotId: 's',
        dockerfile: 'FROM a',
        baseImage: 'a',
        contextDir: '/tmp',
        rootfsNodeKind: 'base',
        rootfsDiskBytes: 1,
        builder: {},
        dockerConfigJson: { auths: {} },
      },
      /dockerConfigJson must be a string/,
    ],
  ];
  for (const [spec, re] of specs) {
    await req(sim, 'PUT', fileUrl('/tmp/s.json'), { sandbox: id, raw: typeof spec === 'string' ? spec : JSON.stringify(spec) });
    const r = await run(sim, id, B, ['--spec', '/tmp/s.json', '--metadata-out', '/tmp/m.json'], { user: 'root' });
    assert.equal(r.info.exit_code, 1, JSON.stringify(spec));
    assert.match(r.lines.at(-1)!.line, re);
    assert.equal(r.lines.at(-1)!.stream, 'stderr');
  }
  // specs are recorded (parsed) as received, docker auth redacted
  await req(sim, 'PUT', fileUrl('/tmp/spec.json'), {
    sandbox: id,
    raw: JSON.stringify({ dockerConfigJson: JSON.stringify({ auths: { 'ghcr.io': { auth: 'c2VjcmV0' } } }) }),
  });
  const rec = sim
    .state()
    .sandboxes.find((s) => s.id === id)!
    .specs.at(-1)!.spec as { dockerConfigJson: string };
  assert.equal(rec.dockerConfigJson, '{"auths":{"ghcr.io":{"auth":"[REDACTED]"}}}');
  await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${id}`);
});

test('diagnostics: /processes/run streams started, output and exited; dmesg and df are clean without faults', async () => {
  const id = await sandbox(sim, { token: PAT, headers: { 'x-forwarded-organization-id': ORG, 'x-forwarded-project-id': PROJ } });
  const o = { token: PAT, headers: { 'x-forwarded-organization-id': ORG, 'x-forwarded-project-id': PROJ }, sandbox: id };
  const dmesg = await sse(sim, 'POST', '/api/v1/processes/run', {
    ...o,
    json: { command: '/bin/sh', args: ['-lc', 'dmesg 2>/dev/null || true'], user: 'root', timeout: 5 },
  });
  assert.equal(dmesg.contentType, 'text/event-stream');
  assert.ok('pid' in dmesg.events[0] && 'started_at' in dmesg.events[0]);
  assert.deepEqual(dmesg.events.at(-1)!.exit_code, 0);
  assert.ok(!dmesg.events.some((e) => /out of memory/i.test(String(e.line))));
  const df = await sse(sim, 'POST', '/api/v1/processes/run', {
    ...o,
    json: {
      command: '/bin/sh',
      args: ['-lc', `for p in ${BUILD_DIR} /var/lib/docker /; do [ -e "$p" ] && df -P "$p" 2>/dev/null; done || true`],
      user: 'root',
      timeout: 5,
    },
  });
  const lines = df.events.filter((e) => typeof e.line === 'string').map((e) => e.line as string);
  assert.ok(lines.length >= 4, lines.join('\n'));
  assert.ok(lines.filter((l) => !l.startsWith('Filesystem')).every((l) => l.split(/\s+/)[4] === '12%'));
  await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${id}`, { token: PAT, headers: o.headers });
});

test('builder: import builds need no context; docker credentials are accepted as a JSON string', async () => {
  const r = await buildFlow(sim, {
    cas: false,
    name: 'imported',
    noContext: true,
    dockerfile: 'FROM ghcr.io/org/app:1.0\n',
    mutateSpec: (s) => {
      s.importImageReference = 'ghcr.io/org/app:1.0';
      s.baseImage = 'ghcr.io/org/app:1.0';
      s.dockerConfigJson = JSON.stringify({ auths: { 'ghcr.io': { auth: Buffer.from('u:p').toString('base64') } } });
    },
  });
  assert.equal(r.builder.info.exit_code, 0, JSON.stringify(r.builder.lines));
  assert.ok(r.builder.lines.some((l) => l.line === '#2 pulling ghcr.io/org/app:1.0'));
  assert.equal(r.complete!.status, 200, r.complete!.text);
  const spec = sim.state().sandboxes.find((s) => s.id === r.sb)!.specs[0].spec as { dockerConfigJson: string };
  assert.ok(!spec.dockerConfigJson.includes(Buffer.from('u:p').toString('base64')), 'docker auth redacted in state');
});

test('the SSE endpoints require Accept: text/event-stream (406 otherwise)', async () => {
  const id = await sandbox(sim);
  const started = await req(sim, 'POST', '/api/v1/processes', { sandbox: id, json: { command: '/bin/true', args: [] } });
  assert.equal(started.status, 200);
  const pid = obj(started).pid as number;
  const follow = await req(sim, 'GET', `/api/v1/processes/${pid}/output/follow`, { sandbox: id });
  assert.equal(follow.status, 406);
  assert.match(obj(follow).error, /Accept: text\/event-stream/);
  const ok = await sse(sim, 'GET', `/api/v1/processes/${pid}/output/follow`, { sandbox: id });
  assert.equal(ok.status, 200);
});
