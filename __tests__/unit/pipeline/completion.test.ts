import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { completeRequestFromMetadata, parseUnsigned, parseMetadata } from '../../../src/pipeline/completion.js';
import type { PreparedBuild } from '../../../src/platform/types.js';

const prepared = (over: Partial<PreparedBuild> = {}): PreparedBuild => ({
  buildId: 'b1',
  snapshotId: 'prep-snap',
  snapshotUri: 's3://bucket/projects/p/sandbox-template-builds/b/snapshot-1.pack',
  rootfsNodeKind: 'base',
  builder: { image: 'img', command: 'tl-rootfs-build', cpus: 2, memoryMb: 4096, diskMb: 20480 },
  raw: {},
  ...over,
});

test('cas-streaming metadata → staged identity and format (docs/protocol.md §8.3)', () => {
  const req = completeRequestFromMetadata(
    { rootfsFormat: 'cas-streaming', stagedArtifact: 'chunked-ext4', snapshotId: 'snapshot-1', imageSizeBytes: 600000000 },
    prepared(),
    { clientRootfsDiskBytes: 10737418240 },
  );
  assert.deepEqual(req, {
    snapshotId: 'snapshot-1',
    snapshotUri: 's3://bucket/projects/p/sandbox-template-builds/b/snapshot-1.pack',
    snapshotFormatVersion: 'content_addressed_streaming_v1',
    snapshotSizeBytes: 600000000,
    rootfsDiskBytes: 10737418240,
    rootfsNodeKind: 'base',
    rootfsFormat: 'cas-streaming',
  });
});

test('snake_case durable metadata maps to the platform shape incl. parentManifestUri', () => {
  const req = completeRequestFromMetadata(
    {
      snapshot_id: 'snapshot-1',
      snapshot_uri: 's3://bucket/child.tlsnap',
      snapshot_format_version: 'durable_archive_v1',
      snapshot_size_bytes: 1234,
      rootfs_disk_bytes: 10737418240,
      rootfs_node_kind: 'diff',
      parent_manifest_uri: 's3://bucket/parent.tlsnap',
    },
    prepared({ snapshotUri: undefined }),
    { clientRootfsDiskBytes: 1 },
  );
  assert.deepEqual(req, {
    snapshotId: 'snapshot-1',
    snapshotUri: 's3://bucket/child.tlsnap',
    snapshotFormatVersion: 'durable_archive_v1',
    snapshotSizeBytes: 1234,
    rootfsDiskBytes: 10737418240,
    rootfsNodeKind: 'diff',
    parentManifestUri: 's3://bucket/parent.tlsnap',
  });
});

test('signed URI wins; mismatch is an error; missing everywhere is an error', () => {
  const meta = { snapshot_format_version: 'durable_archive_v1', snapshot_size_bytes: 1, rootfs_disk_bytes: 2 };
  assert.equal(
    completeRequestFromMetadata(meta, prepared(), { signedUri: 's3://signed', clientRootfsDiskBytes: 0 }).snapshotUri,
    's3://signed',
  );
  assert.equal(
    completeRequestFromMetadata({ ...meta, snapshot_uri: 's3://signed' }, prepared(), {
      signedUri: 's3://signed',
      clientRootfsDiskBytes: 0,
    }).snapshotUri,
    's3://signed',
  );
  assert.throws(
    () =>
      completeRequestFromMetadata({ ...meta, snapshot_uri: 's3://other' }, prepared(), {
        signedUri: 's3://signed',
        clientRootfsDiskBytes: 0,
      }),
    /rootfs builder metadata snapshot_uri s3:\/\/other did not match dataplane signed uri s3:\/\/signed/,
  );
  assert.throws(
    () => completeRequestFromMetadata(meta, prepared({ snapshotUri: undefined }), { clientRootfsDiskBytes: 0 }),
    /rootfs build completed without snapshot_uri/,
  );
});

test('diff falls back to prepared parent; numeric strings accepted; missing fields named', () => {
  const req = completeRequestFromMetadata(
    { snapshot_format_version: 'durable_archive_v1', snapshot_size_bytes: '1234', rootfs_disk_bytes: '+20' },
    prepared({ rootfsNodeKind: 'diff', parent: { parentManifestUri: 's3://p.tlsnap', rootfsDiskBytes: 5 } }),
    { clientRootfsDiskBytes: 0 },
  );
  assert.equal(req.snapshotId, 'prep-snap');
  assert.equal(req.parentManifestUri, 's3://p.tlsnap');
  assert.equal(req.snapshotSizeBytes, 1234);
  assert.equal(req.rootfsDiskBytes, 20);
  assert.throws(
    () =>
      completeRequestFromMetadata(
        { snapshot_format_version: 'x', snapshot_size_bytes: 1, rootfs_disk_bytes: 1, rootfs_node_kind: 'diff' },
        prepared(),
        { clientRootfsDiskBytes: 0 },
      ),
    /rootfs diff build completed without parent_manifest_uri/,
  );
  assert.throws(
    () => completeRequestFromMetadata({ snapshot_size_bytes: 1, rootfs_disk_bytes: 1 }, prepared(), { clientRootfsDiskBytes: 0 }),
    /missing snapshot_format_version/,
  );
  assert.throws(
    () =>
      completeRequestFromMetadata({ snapshot_format_version: 'x', snapshot_size_bytes: 1.5, rootfs_disk_bytes: 1 }, prepared(), {
        clientRootfsDiskBytes: 0,
      }),
    /missing numeric snapshot_size_bytes/,
  );
  assert.throws(
    () => completeRequestFromMetadata({ rootfsFormat: 'cas-streaming' }, prepared(), { clientRootfsDiskBytes: 0 }),
    /missing numeric image_size_bytes/,
  );
});

test('a present snake key with a wrong type does not fall back to camelCase', () => {
  assert.throws(
    () =>
      completeRequestFromMetadata(
        { snapshot_format_version: 'x', snapshot_size_bytes: null, snapshotSizeBytes: 5, rootfs_disk_bytes: 1 },
        prepared(),
        { clientRootfsDiskBytes: 0 },
      ),
    /missing numeric snapshot_size_bytes/,
  );
});

test('parseUnsigned and parseMetadata', () => {
  assert.equal(parseUnsigned(5), 5);
  assert.equal(parseUnsigned('007'), 7);
  assert.equal(parseUnsigned(' 7'), undefined);
  assert.equal(parseUnsigned(-1), undefined);
  assert.equal(parseUnsigned(1.0000001), undefined);
  assert.throws(() => parseMetadata(Buffer.from('not json')), /invalid metadata.json/);
  assert.throws(() => parseMetadata(Buffer.from('[1]')), /not a JSON object/);
});
