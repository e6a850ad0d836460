import { expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { buildSpec, builderPayload } from '../../../src/pipeline/spec.js';
import { shellWords } from '../../../src/pipeline/shell-words.js';
import { computeSizes, multipartHint, MiB } from '../../../src/pipeline/sizes.js';
import type { BuildPlan } from '../../../src/dockerfile/plan.js';
import type { PreparedBuild } from '../../../src/platform/types.js';

const plan: BuildPlan = {
  mode: 'dockerfile',
  dockerfileText: 'FROM python:3.12-slim\n',
  dockerfilePath: 'Dockerfile',
  contextDir: '/ctx',
  baseImage: 'python:3.12-slim',
  baseImageIsInternalStage: false,
  additionalRefs: [],
  lookupRefs: ['python:3.12-slim'],
  name: 'app',
  warnings: [],
  stats: { instructions: 1, stages: 1 },
};

test('spec = raw prepare + builder inputs; unknown fields pass through', () => {
  const spec = buildSpec({
    prepared: { buildId: 'b1', runtimeContract: { x: 1 }, snapshotUri: 'old' },
    plan,
    rootfsDiskBytes: 2048 * MiB,
    dockerConfigJson: '{"auths":{}}',
    dockerCompat: true,
  });
  expect(spec).toStrictEqual({
    buildId: 'b1',
    runtimeContract: { x: 1 },
    snapshotUri: 'old',
    dockerfile: 'FROM python:3.12-slim\n',
    contextDir: '/var/lib/tensorlake/rootfs-builder/build/context',
    baseImage: 'python:3.12-slim',
    rootfsDiskBytes: 2048 * MiB,
    dockerConfigJson: '{"auths":{}}',
    dockerCompat: true,
  });
});

test('signed upload splices uri and upload; parent download; import reference; no dockerCompat key when off', () => {
  const spec = buildSpec({
    prepared: { snapshotUri: 'stale', parent: { parentManifestUri: 's3://p' } },
    plan: {
      ...plan,
      mode: 'import',
      importImageReference: 'ubuntu:24.04',
      dockerfileText: 'FROM ubuntu:24.04\n',
      baseImage: 'ubuntu:24.04',
    },
    rootfsDiskBytes: 1,
    signedUpload: { kind: 's3_multipart', uri: 's3://final.tlsnap' },
    parentDownload: { url: 'https://dl' },
    dockerCompat: false,
  });
  assert.equal(spec.snapshotUri, 's3://final.tlsnap');
  assert.deepEqual(spec.upload, { kind: 's3_multipart', uri: 's3://final.tlsnap' });
  assert.deepEqual(spec.parent, { parentManifestUri: 's3://p', download: { url: 'https://dl' } });
  assert.equal(spec.importImageReference, 'ubuntu:24.04');
  assert.equal('dockerCompat' in spec, false);
  assert.equal('dockerConfigJson' in spec, false);
  assert.throws(
    () => buildSpec({ prepared: { parent: 'x' }, plan, rootfsDiskBytes: 1, parentDownload: {}, dockerCompat: false }),
    /prepared parent is not a JSON object/,
  );
});

test('builder command: installed path, extra args kept, quoting errors', () => {
  const p = builderPayload('tl-rootfs-build --verbose');
  assert.deepEqual(p, {
    command: '/usr/local/bin/tl-rootfs-build',
    args: [
      '--verbose',
      '--spec',
      '/var/lib/tensorlake/rootfs-builder/build/spec.json',
      '--metadata-out',
      '/var/lib/tensorlake/rootfs-builder/build/metadata.json',
    ],
    env: { PATH: '/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
    working_dir: '/var/lib/tensorlake/rootfs-builder/build',
    user: 'root',
  });
  assert.equal(builderPayload('/opt/custom-builder').command, '/opt/custom-builder');
  assert.throws(() => builderPayload('tl-rootfs-build "unterminated'), /invalid rootfs builder command returned by platform API/);
  assert.throws(() => builderPayload('   '), /empty rootfs builder command/);
});

test('shellWords', () => {
  assert.deepEqual(shellWords(`a 'b c' "d \\"e\\"" f\\ g ''`), ['a', 'b c', 'd "e"', 'f g', '']);
  assert.equal(shellWords(`'x`), undefined);
});

const prep = (over: Partial<PreparedBuild> = {}): PreparedBuild => ({
  buildId: 'b',
  snapshotId: 's',
  rootfsNodeKind: 'base',
  builder: { image: 'i', command: 'c', cpus: 2, memoryMb: 4096, diskMb: 20480 },
  raw: {},
  ...over,
});

test('sizes: default 10 GiB, parent size for diff, explicit disk wins, builder disk at least target', () => {
  assert.equal(computeSizes(prep(), {}).rootfsDiskBytes, 10 * 1024 * MiB);
  assert.deepEqual(computeSizes(prep(), {}).builder, { cpus: 2, memoryMb: 4096, diskMb: 20480 });
  assert.equal(
    computeSizes(prep({ parent: { parentManifestUri: 'p', rootfsDiskBytes: 20 * 1024 * MiB } }), {}).rootfsDiskBytes,
    20 * 1024 * MiB,
  );
  assert.throws(() => computeSizes(prep({ parent: { parentManifestUri: 'p' } }), {}), /did not return parent rootfsDiskBytes/);
  const s = computeSizes(prep(), { diskMb: 30720, builderDiskMb: 1000, cpus: 3.5, memoryMb: 8192 });
  assert.deepEqual(s.builder, { cpus: 3.5, memoryMb: 8192, diskMb: 30720 });
  assert.equal(computeSizes(prep({ parent: { parentManifestUri: 'p', rootfsDiskBytes: MiB + 1 } }), {}).targetMiB, 2);
});

test('multipart hint clamps', () => {
  assert.deepEqual(multipartHint(10240), { max_parts: 160, part_size_bytes: 67108864 });
  assert.equal(multipartHint(1).max_parts, 1);
  assert.equal(multipartHint(10_000_000).max_parts, 10_000);
});
