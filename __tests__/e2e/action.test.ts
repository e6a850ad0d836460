import * as path from 'node:path';
/**
 * End to end: the bundled action (dist/index.js) as a process, against the simulator over HTTP on
 * loopback. Each test checks outputs, log groups, annotations, the summary and the simulator state,
 * and that no builder sandbox is left running and no secret is visible.
 */
import { describe, expect, it } from '@jest/globals';
import assert from 'node:assert/strict';
import { readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  sim,
  simulatorForSuite,
  appProject,
  dockerLogin,
  run,
  assertNoSandboxRunning,
  assertNoSecrets,
  makeProject,
  lineIndex,
  SIM_KEY,
  SIM_PAT,
  type SimulatorHandle,
} from './support.js';

// Package runs alongside Prepare and Builder sandbox; its group is written when Upload collects it
const PHASES_EXT4 = ['Plan', 'Prepare', 'Builder sandbox', 'Package', 'Upload context', 'Build', 'Complete', 'Cleanup'];

describe('action end to end (dist/index.js)', () => {
  let s: SimulatorHandle;
  simulatorForSuite((h) => (s = h));

  it('ext4 build: registers a template, streams the builder log, annotates, summarises', async () => {
    const ws = await appProject({
      'notes.log': 'top-level log is ignored\n',
      'nested/trace.log': 'kept: *.log is anchored at the root\n',
      '.dockerignore': '*.log\n**/__pycache__\n',
      'src/__pycache__/x.pyc': 'junk',
    });
    const login = await dockerLogin();
    const r = await run(s, ws, { name: 'e2e-ext4' }, { env: login.env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.outputs.status, 'registered');
    assert.equal(r.outputs['rootfs-format'], 'ext4');
    assert.equal(r.outputs['template-name'], 'e2e-ext4');
    assert.match(r.outputs['template-id'], /\S/);
    assert.match(r.outputs['build-id'], /\S/);
    assert.match(r.outputs['builder-sandbox-id'], /\S/);
    assert.match(r.outputs['context-digest'], /^sha256:[0-9a-f]{64}$/);
    assert.ok(Number(r.outputs['image-size-bytes']) > 0, 'image size reported');
    const template = JSON.parse(r.outputs.template);
    assert.equal(template.id, r.outputs['template-id']);
    assert.equal(r.outputs['manifest-uri'], template.snapshotUri);
    assert.deepEqual(r.groups, PHASES_EXT4);
    // the archive was made while the sandbox started: its report is replayed in the Package group, after the sandbox runs
    assert.ok(
      lineIndex(r, /^Build context archive: \d+ files/) > lineIndex(r, /Rootfs builder sandbox \S+ is running/),
      'archive report in Package',
    );
    assert.ok(lineIndex(r, /^Packaged in \S+ while the platform prepared the build/) > 0, 'overlap reported');
    assert.ok(lineIndex(r, /^Uploading build context/) > lineIndex(r, /^Packaged in/), 'upload after packaging');
    // the builder sandbox made the build directory once, as root, then opened it to the sandbox user
    const sandbox = s.state().sandboxes.find((x) => x.id === r.outputs['builder-sandbox-id'])!;
    const housekeeping = sandbox.processes
      .filter((p) => p.command === 'mkdir' || p.command === 'chmod')
      .map((p) => `${p.user ?? '-'} ${p.command} ${p.args.join(' ')}`);
    expect(housekeeping).toStrictEqual([
      'root mkdir -p /var/lib/tensorlake/rootfs-builder/build',
      'root chmod 0777 /var/lib/tensorlake/rootfs-builder/build',
      '- mkdir -p /var/lib/tensorlake/rootfs-builder/build/context',
    ]);
    assert.match(r.summary, /\| Package \| \d+\.\d\d s \(took \d+\.\d\d s alongside the phases before it\) \| ok \|/);
    // builder log streamed inside the Build group, one line at least per instruction
    assert.ok(lineIndex(r, /RUN pip install/) > lineIndex(r, /Running offline rootfs builder/), 'builder log follows the builder start');
    // annotations for the ignored instructions, with file and line
    const warn = r.annotations.filter((a) => a.level === 'warning' && a.props.file === 'Dockerfile');
    assert.deepEqual(warn.map((a) => a.props.line).sort(), ['10', '9']);
    assert.match(r.summary, /Tensorlake sandbox image `e2e-ext4` registered/);
    assert.ok(r.summary.includes(r.outputs['template-id']), 'summary names the template');
    assert.ok(r.summary.includes(r.outputs['context-digest']), 'summary has the context digest');
    // what a person sees: the context measured in Plan, before the builder sandbox is created
    const measured = r.stdout.search(/^Build context: 6 files, \d+ B \(after \.dockerignore\)$/m);
    assert.ok(
      measured >= 0 && measured < r.stdout.indexOf('::group::Builder sandbox'),
      'context size reported in Plan, before the sandbox',
    );
    assert.match(r.stdout, /^Largest files: [^\n]*requirements\.txt \(\d+ B\)/m);
    assert.match(r.summary, /\| Context size \| \d+ B in 6 files; largest directories: nested\/ \(\d+ B\), src\/ \(\d+ B\)/);
    assert.match(r.summary, /\| Snapshot URI \| `/, 'ext4 registers a snapshot');
    assert.ok(!r.summary.includes('| | |'), 'no empty header row');
    // builder lines as the builder wrote them; progress: the final line of each transfer only, for a tiny context
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('[stderr]')).length, 0);
    const progress = r.stdout.split('\n').filter((l) => /^(Creating|Uploading) build context archive: \d+%/.test(l));
    assert.deepEqual(
      progress.map((l) => l.replace(/ \(.*$/, '')),
      ['Creating build context archive: 100%', 'Uploading build context archive: 100%'],
    );
    assert.ok(
      warn.every((a) => a.props.title === 'Dockerfile: instruction without effect in a sandbox'),
      JSON.stringify(warn),
    );
    // the simulator saw the right build
    const st = s.state();
    const build = st.builds.find((b) => b.buildId === r.outputs['build-id'])!;
    assert.equal(build.status, 'completed');
    const sb = st.sandboxes.find((x) => x.id === r.outputs['builder-sandbox-id'])!;
    const files = sb.contextArchives[0].files
      .filter((f) => f.type === 'file')
      .map((f) => f.path)
      .sort();
    assert.deepEqual(files, ['.dockerignore', 'Dockerfile', 'nested/trace.log', 'requirements.txt', 'src/main.py', 'src/util/helpers.py']);
    const spec = sb.specs.find((x) => x.path.endsWith('spec.json'))!.spec as Record<string, unknown>;
    assert.equal(spec.baseImage, 'python:3.12-slim');
    assert.equal(spec.rootfsDiskBytes, 10 * 1024 * 1024 * 1024);
    // forwarded for the registry the runner logged into (the simulator redacts the value in its state)
    assert.deepEqual(JSON.parse(spec.dockerConfigJson as string), { auths: { 'ghcr.io': { auth: '[REDACTED]' } } });
    assertNoSecrets(r, [SIM_KEY, ...login.secrets], s);
    // the local archive was written to RUNNER_TEMP and removed
    expect((await readdir(r.dir)).filter((n) => n.startsWith('tensorlake-build-context-'))).toStrictEqual([]);
  });

  it('cas-streaming: 202, several admission polls with heartbeats, content-addressed identity', async () => {
    const slow = await sim({ admissionBytesPerSecond: 2 * 1024 * 1024, admissionMinMs: 600 });
    try {
      const ws = await appProject();
      const r = await run(slow, ws, { streaming: 'true', name: 'e2e-cas' });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(r.outputs.status, 'registered');
      assert.equal(r.outputs['rootfs-format'], 'cas-streaming');
      assert.match(r.outputs['image-digest'], /^sha256:[0-9a-f]{64}$/);
      const template = JSON.parse(r.outputs.template);
      // the manifest is named by its own digest
      assert.match(r.outputs['manifest-uri'], /sha256[:/][0-9a-f]{64}$/);
      assert.equal(template.manifestUri, r.outputs['manifest-uri']);
      assert.equal(template.snapshotFormatVersion, 'content_addressed_streaming_v1');
      // the builder sandbox is released once /complete is accepted, before the admission wait
      assert.deepEqual(r.groups, [
        'Plan',
        'Prepare',
        'Builder sandbox',
        'Package',
        'Upload context',
        'Build',
        'Complete',
        'Cleanup',
        'Admission',
      ]);
      const deletedAt = r.lines.findIndex((l) => l.startsWith(`Deleted builder sandbox ${r.outputs['builder-sandbox-id']}`));
      const firstPoll = r.lines.findIndex((l) => /^Admission: ingesting/.test(l));
      assert.ok(deletedAt >= 0 && deletedAt < firstPoll, `deleted (line ${deletedAt}) before the first admission poll (line ${firstPoll})`);
      const beats = r.lines.filter((l) => /^Admission: ingesting, .* elapsed, next poll in/.test(l));
      assert.ok(beats.length >= 2, `expected several heartbeat polls, got ${beats.length}`);
      const build = slow.state().builds.find((b) => b.buildId === r.outputs['build-id'])!;
      assert.deepEqual(
        build.history.map((h) => h.status),
        ['prepared', 'ingesting', 'completed'],
      );
      const complete = build.completeRequests[0] as Record<string, unknown>;
      assert.equal(complete.rootfsFormat, 'cas-streaming');
      assert.equal(complete.snapshotFormatVersion, 'content_addressed_streaming_v1');
      assert.match(r.summary, /Admission polls/);
      assertNoSandboxRunning(slow);
    } finally {
      await slow.stop();
    }
  });

  it('legacy prepare shape; resource, public, docker-compat and registry-credentials inputs reach the platform', async () => {
    const legacy = await sim({ prepareShape: 'legacy' });
    try {
      const login = await dockerLogin();
      const r = await run(
        legacy,
        await appProject(),
        {
          public: 'true',
          cpus: '3.5',
          'memory-mb': '8192',
          'disk-mb': '30720',
          'builder-disk-mb': '65536',
          'docker-compat': 'true',
          'registry-credentials': 'false',
        },
        { env: login.env },
      );
      assert.equal(r.code, 0, r.stdout.slice(-3000));
      const st = legacy.state();
      const build = st.builds.find((b) => b.buildId === r.outputs['build-id'])!;
      assert.equal((build.prepareRequest as Record<string, unknown>).public, true);
      const sb = st.sandboxes.find((x) => x.id === r.outputs['builder-sandbox-id'])!;
      assert.deepEqual(sb.resources, { cpus: 3.5, memory_mb: 8192, disk_mb: 65536 });
      const spec = sb.specs.find((x) => x.path.endsWith('spec.json'))!.spec as Record<string, unknown>;
      assert.equal(spec.dockerCompat, true);
      assert.equal(spec.rootfsDiskBytes, 30720 * 1024 * 1024);
      assert.equal('dockerConfigJson' in spec, false, 'registry-credentials: false forwards nothing');
      assert.ok(typeof spec.upload === 'object' && spec.upload !== null, 'legacy upload block passed through');
      assert.equal(st.requests.filter((q) => q.path === '/api/v1/blob/sign').length, 0, 'legacy path signs nothing');
      assert.ok(
        r.annotations.some((a) => a.level === 'warning' && /Docker compatibility mode enabled/.test(a.message)),
        'docker-compat warning',
      );
      assertNoSandboxRunning(legacy);
    } finally {
      await legacy.stop();
    }
  });

  it('admission failed: the step fails with the platform error, ids and advice', async () => {
    s.addFaults({ kind: 'admissionFail', message: 'chunk 3 digest mismatch' });
    const r = await run(s, await appProject(), { streaming: 'true' });
    assert.equal(r.code, 1);
    assert.equal(r.outputs.status, 'failed');
    const err = r.annotations.find((a) => a.level === 'error')!;
    assert.match(err.message, /streaming image admission failed: chunk 3 digest mismatch/);
    assert.match(err.message, /\(builder sandbox: \S+, build: \S+\)/);
    assert.match(r.summary, /❌/);
    assert.match(r.summary, /chunk 3 digest mismatch/);
  });

  it('admission timeout names the limit and the input', async () => {
    s.addFaults({ kind: 'admissionHang' });
    const r = await run(s, await appProject(), { streaming: 'true', 'admission-timeout': '1s', 'poll-interval': '200ms' });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /timed out waiting for the streaming image admission after 1s \(admission-timeout\)/);
    assert.match(r.stdout, /Raise the admission-timeout input/);
    assert.equal(r.outputs.status, 'failed');
    assert.deepEqual(r.groups.slice(-2), ['Cleanup', 'Admission'], 'the builder was released before the admission wait');
    assert.equal(s.state().sandboxes.find((x) => x.id === r.outputs['builder-sandbox-id'])?.status, 'terminated');
    assert.match(r.summary, /\| Failed in \| Admission \|/);
  });

  it('wait: false returns once the build is accepted (status ingesting)', async () => {
    s.addFaults({ kind: 'admissionHang' });
    const r = await run(s, await appProject(), { streaming: 'true', wait: 'false' });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.outputs.status, 'ingesting');
    assert.ok(!r.groups.includes('Admission'), 'no admission group without waiting');
    assert.equal(s.state().builds.find((b) => b.buildId === r.outputs['build-id'])!.status, 'ingesting');
    assert.match(r.summary, /admission in progress/);
  });

  it('import mode: no context upload, import reference in the spec, derived name', async () => {
    const ws = await makeProject({});
    const r = await run(s, ws, { image: 'ghcr.io/acme/runtime:2.4' });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.outputs['template-name'], 'runtime');
    assert.equal(r.outputs.status, 'registered');
    const sb = s.state().sandboxes.find((x) => x.id === r.outputs['builder-sandbox-id'])!;
    assert.equal(sb.contextArchives.length, 0);
    const puts = s
      .state()
      .requests.filter((q) => q.sandboxId === sb.id && q.method === 'PUT')
      .map((q) => decodeURIComponent(q.path));
    assert.deepEqual(puts, ['/api/v1/files?path=/var/lib/tensorlake/rootfs-builder/build/spec.json'], 'only the spec is uploaded');
    const spec = sb.specs.find((x) => x.path.endsWith('spec.json'))!.spec as Record<string, unknown>;
    assert.equal(spec.importImageReference, 'ghcr.io/acme/runtime:2.4');
    assert.equal(spec.dockerfile, 'FROM ghcr.io/acme/runtime:2.4\n');
    assert.ok(!r.stdout.includes('Creating build context archive'), 'no archive in import mode');
    assert.match(r.summary, /Mode \| import/);
    assert.equal(r.outputs['context-digest'], undefined);
  });

  it('diff build from a registered template', async () => {
    const ws = await appProject({}, 'FROM tensorlake/base:1\nRUN echo diff\n');
    const r = await run(s, ws, { name: 'e2e-diff' });
    assert.equal(r.code, 0, r.stdout);
    const build = s.state().builds.find((b) => b.buildId === r.outputs['build-id'])!;
    assert.equal(build.rootfsNodeKind, 'diff');
    const prep = build.prepareRequest as Record<string, unknown>;
    assert.equal((prep.parentTemplate as Record<string, unknown>).reference, 'tensorlake/base:1');
    assert.match(r.stdout, /Reference tensorlake\/base:1 is registered template/);
    const sb = s.state().sandboxes.find((x) => x.id === r.outputs['builder-sandbox-id'])!;
    const spec = sb.specs.find((x) => x.path.endsWith('spec.json'))!.spec as Record<string, Record<string, unknown>>;
    assert.ok(spec.parent && typeof spec.parent.download === 'object', 'parent download signed (new path, diff build)');
    assert.equal(spec.rootfsDiskBytes as unknown, 10 * 1024 * 1024 * 1024, 'diff target defaults to the parent size');
    assert.match(r.summary, /diff of/);
  });

  it('a context that cannot be archived stops the build before a sandbox exists, when packaging fails first', async () => {
    const before = s.state().sandboxes.length;
    const ws = await appProject({});
    // packaging fails at once (no temp directory to write to) while prepare is still answering
    s.addFaults({
      kind: 'delay',
      method: 'POST',
      path: '/platform/v1/organizations/org_sim/projects/proj_sim/sandbox-template-builds',
      delayMs: 1500,
    });
    const missingTemp = path.join(ws, 'no-such-temp-dir');
    const r = await run(s, ws, {}, { env: { RUNNER_TEMP: missingTemp } });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.outputs.error, /Cannot create the build context archive in .*no-such-temp-dir/);
    assert.equal(s.state().sandboxes.length, before, 'no sandbox created');
    assert.deepEqual(r.groups, ['Plan', 'Prepare', 'Package']);
  });

  it('streaming with a registered FROM is rejected before any sandbox exists', async () => {
    const before = s.state().sandboxes.length;
    const ws = await appProject({}, 'FROM tensorlake/base:1\nRUN echo x\n');
    const r = await run(s, ws, { streaming: 'true' });
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /--streaming builds support only base images: the Dockerfile FROM \(and any COPY --from references\) must be unregistered OCI images, not registered Tensorlake templates/,
    );
    assert.equal(s.state().sandboxes.length, before, 'no sandbox created');
    assert.equal(r.outputs.status, 'failed');
    assert.deepEqual(r.groups, ['Plan', 'Prepare'], 'stopped in Prepare, nothing to clean up (the packaging alongside it is dropped)');
    assert.match(r.summary, /\| Failed in \| Prepare \|[\s\S]*--streaming builds support only base images/);
  });

  it('PAT auth sends scope headers and needs no introspection', async () => {
    const r = await run(s, await appProject(), { 'api-key': '', pat: SIM_PAT, 'organization-id': 'org_sim', 'project-id': 'proj_sim' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const reqs = s
      .state()
      .requests.filter((q) => q.path.includes(r.outputs['build-id']) || q.sandboxId === r.outputs['builder-sandbox-id']);
    assert.ok(reqs.length > 5, 'requests of this build were logged');
    for (const q of reqs) assert.equal(q.headers['x-forwarded-organization-id'], 'org_sim', `${q.method} ${q.path}`);
    assert.equal(r.outputs.status, 'registered');
    assert.deepEqual(r.groups, PHASES_EXT4);
    assert.match(r.stdout, /Using a personal access token for organization org_sim, project proj_sim/);
    assert.match(r.summary, /registered/);
    assertNoSecrets(r, [SIM_PAT]);
  });

  it('builder OOM: memory advice; ENOSPC: disk advice', async () => {
    s.addFaults({ kind: 'builderOom' });
    const oom = await run(s, await appProject(), {});
    assert.equal(oom.code, 1);
    assert.match(oom.stdout, /killed by the kernel OOM killer/);
    assert.match(oom.stdout, /ran out of memory: retry with a larger builder memory \(the memory-mb input\)/);
    assert.match(oom.summary, /\| Failed in \| Build \|/);
    assert.match(oom.summary, /Last \d+ builder log lines[\s\S]*RUN apt-get|Last \d+ builder log lines[\s\S]*#\d/);
    s.addFaults({ kind: 'builderEnospc' });
    const disk = await run(s, await appProject(), {});
    assert.equal(disk.code, 1);
    assert.match(disk.stdout, /No space left on device/);
    assert.match(disk.stdout, /ran out of disk space: retry with a larger builder disk \(the builder-disk-mb input\)/);
    assert.match(disk.summary, /builder-disk-mb/);
  });

  it('.dockerignore: Docker semantics, re-inclusion, Dockerfile-specific ignore file, symlinks kept as links', async () => {
    const ws = await appProject({
      '.dockerignore': '*.md\n!README*.md\nREADME-secret.md\nbuild/\n!build/keep.txt\n**.pem\n**.env\n',
      'deploy/keys/server.pem': 'PRIVATE KEY',
      'root.pem': 'PRIVATE KEY',
      'config/prod.env': 'TOKEN=x',
      'README.md': 'r',
      'README-secret.md': 's',
      'CHANGES.md': 'c',
      'docs/guide.md': 'kept: not at the root',
      'build/out.bin': 'x',
      'build/keep.txt': 'k',
    });
    await symlink('src/main.py', join(ws, 'link-to-main'));
    const r = await run(s, ws, {});
    assert.equal(r.code, 0, r.stdout);
    const sb = s.state().sandboxes.find((x) => x.id === r.outputs['builder-sandbox-id'])!;
    const entries = sb.contextArchives[0].files;
    const files = entries
      .filter((f) => f.type === 'file')
      .map((f) => f.path)
      .sort();
    assert.deepEqual(files, [
      '.dockerignore',
      'Dockerfile',
      'README.md',
      'build/keep.txt',
      'docs/guide.md',
      'requirements.txt',
      'src/main.py',
      'src/util/helpers.py',
    ]);
    const link = entries.find((f) => f.path === 'link-to-main')!;
    assert.equal(link.type, 'symlink');
    assert.equal(link.target, 'src/main.py');

    const ws2 = await appProject({ '.dockerignore': '*.txt\n', 'Dockerfile.dockerignore': 'src/util\n' });
    const r2 = await run(s, ws2, {});
    assert.equal(r2.code, 0);
    const files2 = s
      .state()
      .sandboxes.find((x) => x.id === r2.outputs['builder-sandbox-id'])!
      .contextArchives[0].files.filter((f) => f.type === 'file')
      .map((f) => f.path);
    assert.ok(files2.includes('requirements.txt'), 'Dockerfile.dockerignore replaces .dockerignore');
    assert.ok(!files2.includes('src/util/helpers.py'), 'excluded by Dockerfile.dockerignore');
  });

  it('same context, same digest (deterministic archive)', async () => {
    const a = await appProject();
    const b = await appProject();
    const ra = await run(s, a, {});
    const rb = await run(s, b, {});
    assert.equal(ra.code, 0);
    assert.equal(ra.outputs['context-digest'], rb.outputs['context-digest']);
  });

  it('a Dockerfile syntax error is an error annotation on its line; no network call is made', async () => {
    const ws = await appProject({}, 'FROM python:3.12\nRUN echo ok\nFROM\n');
    const n = s.state().requests.length;
    const r = await run(s, ws, {});
    assert.equal(r.code, 1);
    const err = r.annotations.find((a) => a.level === 'error' && a.props.file === 'Dockerfile')!;
    assert.ok(err, r.stdout);
    assert.equal(err.props.line, '3');
    assert.equal(s.state().requests.length, n, 'planning failed before any request');
  });

  it('a .dockerignore pattern Docker rejects fails the step before any network call, naming its line', async () => {
    const ws = await appProject({ '.dockerignore': '# local files\n*.log\n[Local-Only]\n' });
    const n = s.state().requests.length;
    const r = await run(s, ws, {});
    assert.equal(r.code, 1);
    assert.match(r.stdout, /::error[^\n]*Invalid \.dockerignore pattern in [^\n]*\.dockerignore line 3: "\[Local-Only\]"/);
    assert.equal(s.state().requests.length, n, 'no request was made');
    assert.equal(r.outputs.status, 'failed');
  });

  it('bad input fails before any network call, naming the input', async () => {
    const n = s.state().requests.length;
    const r = await run(s, await appProject(), { 'disk-mb': 'lots' });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /::error::Input 'disk-mb': expected a whole number, got 'lots'/);
    assert.equal(s.state().requests.length, n);
    assert.equal(r.outputs.status, 'failed');
  });

  it('post step deletes a sandbox left by a killed main step', async () => {
    const ws = await appProject();
    const main = await run(s, ws, {}, { killOn: { pattern: /Rootfs builder sandbox \S+ is running/, signal: 'SIGKILL' } });
    assert.equal(main.signal, 'SIGKILL');
    const saved = JSON.parse(main.state['builder-sandboxes']) as string[];
    assert.equal(saved.length, 1);
    assert.equal(s.state().sandboxes.find((x) => x.id === saved[0])!.status, 'running', 'left running by the killed main');
    const post = await run(s, ws, {}, { post: true, state: { 'builder-sandboxes': main.state['builder-sandboxes'] } });
    assert.equal(post.code, 0, post.stdout + post.stderr);
    assert.match(post.stdout, new RegExp(`deleted builder sandbox ${saved[0]}`));
    assert.equal(s.state().sandboxes.find((x) => x.id === saved[0])!.status, 'terminated');
    // idempotent: a second post step finds it gone and still succeeds
    const again = await run(s, ws, {}, { post: true, state: { 'builder-sandboxes': main.state['builder-sandboxes'] } });
    assert.equal(again.code, 0);
    const nothing = await run(s, ws, {}, { post: true });
    assert.match(nothing.stdout, /No builder sandbox left to clean up/);
  });
});
