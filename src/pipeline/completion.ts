/** docs/protocol.md §8: builder metadata.json → the /complete request, with every reconciliation rule. */
import { ActionError } from '../errors.js';
import type { CompleteRequest, JsonObject, PreparedBuild } from '../platform/types.js';

type Lookup<T> = { present: false } | { present: true; value: T | undefined };

/** §8.1: the snake_case key wins when present (even with a wrong type); camelCase only when it is absent. */
function lookup(meta: JsonObject, snake: string, camel: string): { present: boolean; value: unknown } {
  if (Object.prototype.hasOwnProperty.call(meta, snake)) return { present: true, value: meta[snake] };
  if (Object.prototype.hasOwnProperty.call(meta, camel)) return { present: true, value: meta[camel] };
  return { present: false, value: undefined };
}

function metaString(meta: JsonObject, snake: string, camel: string): Lookup<string> {
  const r = lookup(meta, snake, camel);
  if (!r.present) return { present: false };
  return { present: true, value: typeof r.value === 'string' ? r.value : undefined };
}

/** Unsigned integer: a JSON non-negative integer or a decimal string (optional leading +). */
export function parseUnsigned(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 && !Object.is(v, -0) ? v : undefined;
  if (typeof v === 'string' && /^\+?\d+$/.test(v)) {
    const n = Number(v.replace(/^\+/, ''));
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

function metaUnsigned(meta: JsonObject, snake: string, camel: string): number | undefined {
  const r = lookup(meta, snake, camel);
  return r.present ? parseUnsigned(r.value) : undefined;
}

function str(l: Lookup<string>): string | undefined {
  return l.present ? l.value : undefined;
}

export function parseMetadata(body: Buffer): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new ActionError(`rootfs builder wrote invalid metadata.json: ${(e as Error).message}`, { kind: 'builder' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ActionError('rootfs builder wrote invalid metadata.json: not a JSON object', { kind: 'builder' });
  }
  return parsed as JsonObject;
}

export function isCasMetadata(meta: JsonObject): boolean {
  return str(metaString(meta, 'rootfs_format', 'rootfsFormat')) === 'cas-streaming';
}

/** §8.4 */
function reconcileSnapshotUri(meta: JsonObject, prepared: PreparedBuild, signedUri: string | undefined): string {
  const metaUri = str(metaString(meta, 'snapshot_uri', 'snapshotUri'));
  if (signedUri !== undefined) {
    if (metaUri !== undefined && metaUri !== signedUri) {
      throw new ActionError(`rootfs builder metadata snapshot_uri ${metaUri} did not match dataplane signed uri ${signedUri}`, {
        kind: 'builder',
      });
    }
    return signedUri;
  }
  const uri = metaUri ?? prepared.snapshotUri;
  if (uri === undefined) throw new ActionError('rootfs build completed without snapshot_uri', { kind: 'builder' });
  return uri;
}

export function completeRequestFromMetadata(
  meta: JsonObject,
  prepared: PreparedBuild,
  opts: { signedUri?: string; clientRootfsDiskBytes: number },
): CompleteRequest {
  const snapshotId = str(metaString(meta, 'snapshot_id', 'snapshotId')) ?? prepared.snapshotId;
  const snapshotUri = reconcileSnapshotUri(meta, prepared, opts.signedUri);
  if (isCasMetadata(meta)) {
    const size = metaUnsigned(meta, 'image_size_bytes', 'imageSizeBytes');
    if (size === undefined) throw new ActionError('rootfs builder metadata is missing numeric image_size_bytes', { kind: 'builder' });
    return {
      snapshotId,
      snapshotUri,
      snapshotFormatVersion: 'content_addressed_streaming_v1',
      snapshotSizeBytes: size,
      rootfsDiskBytes: opts.clientRootfsDiskBytes,
      rootfsNodeKind: 'base',
      rootfsFormat: 'cas-streaming',
    };
  }
  const fmt = str(metaString(meta, 'snapshot_format_version', 'snapshotFormatVersion'));
  if (fmt === undefined) throw new ActionError('rootfs builder metadata is missing snapshot_format_version', { kind: 'builder' });
  const size = metaUnsigned(meta, 'snapshot_size_bytes', 'snapshotSizeBytes');
  if (size === undefined) throw new ActionError('rootfs builder metadata is missing numeric snapshot_size_bytes', { kind: 'builder' });
  const disk = metaUnsigned(meta, 'rootfs_disk_bytes', 'rootfsDiskBytes');
  if (disk === undefined) throw new ActionError('rootfs builder metadata is missing numeric rootfs_disk_bytes', { kind: 'builder' });
  const kind = str(metaString(meta, 'rootfs_node_kind', 'rootfsNodeKind')) ?? prepared.rootfsNodeKind;
  let parentManifestUri = str(metaString(meta, 'parent_manifest_uri', 'parentManifestUri'));
  if (parentManifestUri === undefined && kind === 'diff') {
    parentManifestUri = prepared.parent?.parentManifestUri;
    if (parentManifestUri === undefined) {
      throw new ActionError('rootfs diff build completed without parent_manifest_uri', { kind: 'builder' });
    }
  }
  const req: CompleteRequest = {
    snapshotId,
    snapshotUri,
    snapshotFormatVersion: fmt,
    snapshotSizeBytes: size,
    rootfsDiskBytes: disk,
    rootfsNodeKind: kind,
  };
  if (parentManifestUri !== undefined) req.parentManifestUri = parentManifestUri;
  return req;
}
