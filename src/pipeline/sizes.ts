/** docs/protocol.md §4.3: target rootfs size and builder resources derived from prepare and the inputs. */
import { ActionError } from '../errors.js';
import type { PreparedBuild } from '../platform/types.js';

export const MiB = 1024 * 1024;
export const DEFAULT_TARGET_MIB = 10_240;

export interface BuildSizes {
  rootfsDiskBytes: number;
  targetMiB: number;
  builder: { cpus: number; memoryMb: number; diskMb: number };
}

export function computeSizes(
  prepared: PreparedBuild,
  opts: { diskMb?: number; builderDiskMb?: number; cpus?: number; memoryMb?: number },
): BuildSizes {
  let rootfsDiskBytes: number;
  if (opts.diskMb !== undefined) {
    rootfsDiskBytes = opts.diskMb * MiB;
    if (!Number.isSafeInteger(rootfsDiskBytes)) {
      throw new ActionError('disk-mb is too large to convert to bytes', { kind: 'input', input: 'disk-mb' });
    }
  } else if (prepared.parent) {
    if (prepared.parent.rootfsDiskBytes === undefined) {
      throw new ActionError(
        'platform API did not return parent rootfsDiskBytes for diff build; pass disk-mb explicitly or update Platform API',
        { kind: 'platform', input: 'disk-mb', buildId: prepared.buildId },
      );
    }
    rootfsDiskBytes = prepared.parent.rootfsDiskBytes;
  } else {
    rootfsDiskBytes = DEFAULT_TARGET_MIB * MiB;
  }
  const targetMiB = Math.ceil(rootfsDiskBytes / MiB);
  return {
    rootfsDiskBytes,
    targetMiB,
    builder: {
      cpus: opts.cpus ?? prepared.builder.cpus,
      memoryMb: opts.memoryMb ?? prepared.builder.memoryMb,
      diskMb: Math.max(targetMiB, opts.builderDiskMb ?? prepared.builder.diskMb),
    },
  };
}

/** §6.6: multipart hint for a put_artifact signature. */
export function multipartHint(targetMiB: number): { max_parts: number; part_size_bytes: number } {
  const parts = Math.min(10_000, Math.max(1, Math.ceil(targetMiB / 64)));
  return { max_parts: parts, part_size_bytes: 64 * MiB };
}
