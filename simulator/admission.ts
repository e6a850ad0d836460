/**
 * cas-streaming admission (§9.1/§9.2): after a 202 the build is `ingesting`; a background job
 * (duration ∝ image size) verifies the staged chunks, checks the declared size, deduplicates
 * against admitted chunks and registers a content-addressed template — or fails the build.
 */
import type { JsonObject } from './types.js';
import { nowIso, randomHex } from './util.js';
import type { Build, StoredTemplate, World } from './world.js';

export function startAdmission(
  world: World,
  build: Build,
  req: { snapshotUri: string; snapshotSizeBytes: number; rootfsDiskBytes: number },
): void {
  const staged = world.chunks.staged.get(req.snapshotUri);
  const sizeForTiming = staged?.manifest.imageSizeBytes ?? req.snapshotSizeBytes;
  build.admission = { startedAt: nowIso(), imageSizeBytes: staged?.manifest.imageSizeBytes };
  const hang = world.faults.take('admissionHang');
  if (hang) {
    build.history.push({ status: 'ingesting', at: nowIso(), note: `fault ${hang.id}: admission will never finish` });
    return;
  }
  const failRule = world.faults.take('admissionFail');
  const corrupt = staged ? world.faults.take('corruptChunk') : undefined;
  const drop = staged ? world.faults.take('dropChunk') : undefined;
  const ms = Math.max(world.opts.admissionMinMs, Math.round((sizeForTiming / world.opts.admissionBytesPerSecond) * 1000));
  world.setTimer(() => {
    const fail = (msg: string): void => {
      build.error = msg;
      build.admission = { ...build.admission!, finishedAt: nowIso() };
      world.setBuildStatus(build, 'failed', msg);
    };
    if (build.status !== 'ingesting') return;
    if (failRule) return fail(failRule.message ?? 'admission failed: injected fault');
    if (!staged) return fail(`no staged image at '${req.snapshotUri}': the builder did not stage a content-addressed image there`);
    if (corrupt) world.chunks.corrupt(staged, corrupt.chunkIndex ?? 0);
    if (drop) world.chunks.drop(staged, drop.chunkIndex ?? 0);
    let result;
    try {
      result = world.chunks.admit(staged, req.snapshotSizeBytes);
    } catch (e) {
      return fail((e as Error).message);
    }
    const tpl = {
      id: `sandbox_template_${randomHex(10)}`,
      name: build.name,
      snapshotId: build.snapshotId,
      snapshotUri: result.manifestUri,
      manifestUri: result.manifestUri,
      manifestDigest: result.manifestDigest,
      imageDigest: result.imageDigest,
      snapshotFormatVersion: 'content_addressed_streaming_v1',
      snapshotSizeBytes: result.imageSizeBytes,
      rootfsDiskBytes: req.rootfsDiskBytes,
      rootfsNodeKind: 'base',
      rootfsFormat: 'cas-streaming',
      public: build.public,
      dockerfile: build.dockerfile,
      chunkCount: result.chunkCount,
      chunkSizeBytes: staged.manifest.chunkSizeBytes,
      novelBytes: result.novelBytes,
      reusedBytes: result.reusedBytes,
      stagedSnapshotUri: req.snapshotUri,
      buildId: build.buildId,
      createdAt: nowIso(),
    } as StoredTemplate['tpl'];
    world.registerTemplate(build.organizationId, build.projectId, tpl);
    build.templateId = tpl.id;
    build.template = tpl as JsonObject;
    build.admission = {
      ...build.admission!,
      finishedAt: nowIso(),
      imageSizeBytes: result.imageSizeBytes,
      chunkCount: result.chunkCount,
      novelBytes: result.novelBytes,
      reusedBytes: result.reusedBytes,
      manifestUri: result.manifestUri,
    };
    world.setBuildStatus(
      build,
      'completed',
      `admitted ${result.chunkCount} chunks (${result.novelBytes} novel, ${result.reusedBytes} reused bytes); template ${tpl.id}`,
    );
  }, ms);
}
