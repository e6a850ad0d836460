/**
 * Conformance with the real client: the native binding of the npm package tensorlake@0.5.89
 * (its JS entry needs Node 22, the binding loads on Node 20) runs buildSandboxImage against the
 * simulator. API key + new prepare shape (blob/sign), PAT + legacy shape, and a diff build.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from '@jest/globals';
import { startSimulator, type SimulatorOptions } from '../../simulator/index.js';
import { KEY, ORG, PAT, PROJ } from './client.js';
import { loadNative, type NativeBinding, type NativeEvent } from '../../tools/tensorlake-sdk.js';

// Loaded by the first test that needs it, so a binding that cannot load (wrong platform, broken
// install) fails each conformance test with the loader's error instead of skipping them.
let binding: NativeBinding | undefined;
const native = (): NativeBinding => (binding ??= loadNative().native);

async function context(dockerfile: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tl-sim-conf-'));
  const files: Record<string, string> = {
    Dockerfile: dockerfile,
    '.dockerignore': '*.log\nsecrets/\n**/__pycache__\n!keep.log\n',
    'src/main.py': 'print("hello")\n',
    'src/util/helpers.py': 'X = 1\n',
    'src/__pycache__/main.cpython-312.pyc': 'junk',
    'keep.log': 'kept\n',
    'debug.log': 'dropped\n',
    'secrets/token.txt': 'dropped\n',
  };
  for (const [p, c] of Object.entries(files)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), c);
  }
  return dir;
}

async function build(simOpts: SimulatorOptions, o: { token: string; pat?: boolean; dockerfile: string; name: string }) {
  const sim = await startSimulator({ quiet: true, sandboxPendingMs: 0, builderLineDelayMs: 1, ...simOpts });
  try {
    const dir = await context(o.dockerfile);
    const events: NativeEvent[] = [];
    const json = await native().buildSandboxImage(
      {
        apiUrl: sim.url,
        bearerToken: o.token,
        dockerfilePath: join(dir, 'Dockerfile'),
        registeredName: o.name,
        isPublic: false,
        namespace: 'default',
        useScopeHeaders: o.pat === true,
        ...(o.pat ? { organizationId: ORG, projectId: PROJ } : {}),
        dockerCompat: false,
      },
      (e) => events.push(e),
    );
    return { result: JSON.parse(json) as Record<string, unknown>, events, state: sim.state() };
  } finally {
    await sim.stop();
  }
}

const DOCKERFILE =
  'FROM python:3.12-slim\nWORKDIR /app\nCOPY src/ /app/src/\nRUN pip install --no-cache-dir requests && \\\n    echo done\nCMD ["python", "/app/src/main.py"]\n';
const EXPECTED_FILES = ['.dockerignore', 'Dockerfile', 'keep.log', 'src/main.py', 'src/util/helpers.py'];

function commonAssertions(r: Awaited<ReturnType<typeof build>>, name: string): void {
  const { result, state, events } = r;
  assert.equal(state.templates.find((t) => t.id === result.id)?.name, name, 'template registered under the name');
  assert.equal(state.builds.length, 1);
  assert.equal(state.builds[0].status, 'completed');
  assert.equal(state.builds[0].templateId, result.id);
  assert.equal(state.sandboxes.length, 1);
  const sb = state.sandboxes[0];
  assert.equal(sb.status, 'terminated');
  assert.ok(sb.deletedAt, 'the builder sandbox was deleted');
  assert.equal(sb.contextArchives.length, 1);
  assert.deepEqual(
    sb.contextArchives[0].files
      .filter((f) => f.type === 'file')
      .map((f) => f.path)
      .sort(),
    EXPECTED_FILES,
  );
  assert.equal(sb.contextArchives[0].exitCode, 0);
  const spec = sb.specs[0].spec as Record<string, unknown>;
  assert.equal(spec.contextDir, '/var/lib/tensorlake/rootfs-builder/build/context');
  assert.ok(
    events.some((e) => e.eventType === 'build_log' && /\[4\/5\] RUN pip install/.test(e.message)),
    'builder lines were streamed',
  );
  const builder = sb.processes.find((p) => p.command === '/usr/local/bin/tl-rootfs-build')!;
  assert.deepEqual(builder.args, [
    '--spec',
    '/var/lib/tensorlake/rootfs-builder/build/spec.json',
    '--metadata-out',
    '/var/lib/tensorlake/rootfs-builder/build/metadata.json',
  ]);
  assert.equal(builder.user, 'root');
  for (const q of state.requests) {
    assert.ok(
      (q.status >= 200 && q.status < 300) || (q.status === 404 && q.path.includes('/by-name/')),
      `${q.method} ${q.path} → ${q.status}`,
    );
    assert.ok(!JSON.stringify(q.headers).includes('tl_sim_'), 'tokens are redacted in the request log');
  }
}

test('real SDK (native tensorlake@0.5.89), API key, new prepare shape with blob/sign', async () => {
  const r = await build({ prepareShape: 'new' }, { token: KEY, dockerfile: DOCKERFILE, name: 'conf-key' });
  commonAssertions(r, 'conf-key');
  const paths = r.state.requests.map((q) => `${q.method} ${q.path.split('?')[0]}`);
  assert.equal(paths[0], 'POST /platform/v1/keys/introspect');
  assert.ok(paths.includes('POST /api/v1/blob/sign'));
  assert.match(String(r.result.snapshotUri), /^s3:\/\/tl-sim-bucket\/dataplane\//, 'the signed URI, not the stale prepared one');
  const spec = r.state.sandboxes[0].specs[0].spec as Record<string, unknown>;
  assert.equal(spec.snapshotUri, r.result.snapshotUri);
  assert.ok(
    r.state.requests.filter((q) => q.role === 'proxy').every((q) => q.headers.host === `${r.state.sandboxes[0].id}.local`),
    'Host override on proxy calls',
  );
});

test('real SDK, PAT with org/project ids, legacy prepare shape', async () => {
  const r = await build({ prepareShape: 'legacy' }, { token: PAT, pat: true, dockerfile: DOCKERFILE, name: 'conf-pat' });
  commonAssertions(r, 'conf-pat');
  assert.ok(!r.state.requests.some((q) => q.path.includes('introspect')), 'no introspection with a PAT');
  assert.ok(!r.state.requests.some((q) => q.path.includes('blob/sign')), 'legacy shape: nothing signed');
  for (const q of r.state.requests) {
    assert.equal(q.headers['x-forwarded-organization-id'], ORG, `${q.path} carries the org header`);
    assert.equal(q.headers['x-forwarded-project-id'], PROJ);
  }
});

test('real SDK, diff build on the seeded base template (parent signed with get_blob)', async () => {
  const r = await build({}, { token: KEY, dockerfile: DOCKERFILE.replace('python:3.12-slim', 'tensorlake/base:1'), name: 'conf-diff' });
  commonAssertions(r, 'conf-diff');
  assert.equal(r.result.rootfsNodeKind, 'diff');
  assert.equal(r.result.parentManifestUri, 's3://tl-sim-bucket/templates/tensorlake-base-1/snapshot.tlsnap');
  assert.ok(r.state.requests.some((q) => q.path.endsWith('/by-name/tensorlake%2Fbase%3A1') && q.status === 200));
  const spec = r.state.sandboxes[0].specs[0].spec as { parent?: { download?: unknown }; rootfsDiskBytes?: number };
  assert.ok(spec.parent?.download, 'parent.download spliced into the spec');
  assert.equal(spec.rootfsDiskBytes, 10737418240, "diff target size = parent's rootfsDiskBytes");
});
