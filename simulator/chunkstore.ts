/**
 * Content-addressed chunk store. The builder stages chunks (keyed by sha256) and a manifest
 * per staged image; admission verifies them and moves them into the admitted store,
 * counting novel vs reused (deduplicated) bytes.
 */
import { createHash } from 'node:crypto';
import type { ChunkStoreStats } from './types.js';
import { sha256Hex } from './util.js';

export interface ManifestChunk {
  index: number;
  offset: number;
  size: number;
  digest: string; // "sha256:<hex>"
}

export interface Manifest {
  schema: 'tl-sim-cas-manifest/v1';
  chunkSizeBytes: number;
  imageSizeBytes: number;
  imageDigest: string;
  chunks: ManifestChunk[];
}

export interface StagedImage {
  uri: string;
  buildId?: string;
  snapshotId: string;
  manifest: Manifest;
  stagedAt: string;
  /** the target size the builder built for (spec.rootfsDiskBytes) */
  rootfsDiskBytes?: number;
  /** fault injection on this image only (chunks are shared between images by digest) */
  damage?: Map<number, 'corrupt' | 'missing'>;
}

export interface AdmitResult {
  manifestDigest: string; // sha256:<hex>
  manifestUri: string;
  imageDigest: string;
  imageSizeBytes: number;
  chunkCount: number;
  novelBytes: number;
  reusedBytes: number;
}

export class ChunkStore {
  /** staged images by snapshot URI (what the builder wrote to) */
  readonly staged = new Map<string, StagedImage>();
  /** staging area: digest hex → bytes */
  readonly staging = new Map<string, Buffer>();
  /** admitted chunks: digest hex → bytes */
  readonly chunks = new Map<string, Buffer>();
  /** admitted manifests: digest hex → manifest */
  readonly manifests = new Map<string, Manifest>();
  novelBytes = 0;
  reusedBytes = 0;

  /** cut an image into fixed-size chunks and stage them with a manifest */
  stage(
    uri: string,
    image: Buffer,
    chunkSize: number,
    meta: { snapshotId: string; buildId?: string; rootfsDiskBytes?: number },
  ): StagedImage {
    const chunks: ManifestChunk[] = [];
    for (let off = 0, i = 0; off < image.length; off += chunkSize, i++) {
      const bytes = Buffer.from(image.subarray(off, Math.min(off + chunkSize, image.length)));
      const hex = sha256Hex(bytes);
      this.staging.set(hex, bytes);
      chunks.push({ index: i, offset: off, size: bytes.length, digest: `sha256:${hex}` });
    }
    const manifest: Manifest = {
      schema: 'tl-sim-cas-manifest/v1',
      chunkSizeBytes: chunkSize,
      imageSizeBytes: image.length,
      imageDigest: `sha256:${sha256Hex(image)}`,
      chunks,
    };
    const staged: StagedImage = {
      uri,
      manifest,
      snapshotId: meta.snapshotId,
      buildId: meta.buildId,
      rootfsDiskBytes: meta.rootfsDiskBytes,
      stagedAt: new Date().toISOString(),
    };
    this.staged.set(uri, staged);
    return staged;
  }

  /**
   * Fault injection: this image's copy of a chunk is corrupt (one byte flipped) or missing. Staged
   * chunks are shared by digest between images (identical base layers), so the damage is recorded
   * on the image, not applied to the shared bytes: other builds are not affected.
   */
  corrupt(staged: StagedImage, index: number): boolean {
    return this.damage(staged, index, 'corrupt');
  }

  drop(staged: StagedImage, index: number): boolean {
    return this.damage(staged, index, 'missing');
  }

  private damage(staged: StagedImage, index: number, kind: 'corrupt' | 'missing'): boolean {
    const c = staged.manifest.chunks[Math.min(index, staged.manifest.chunks.length - 1)];
    if (!c) return false;
    (staged.damage ??= new Map()).set(c.index, kind);
    return true;
  }

  /** the bytes of one chunk as this image sees them (shared staging plus its own damage) */
  private chunkBytes(staged: StagedImage, c: ManifestChunk): Buffer | undefined {
    const d = staged.damage?.get(c.index);
    if (d === 'missing') return undefined;
    const bytes = this.staging.get(c.digest.slice('sha256:'.length));
    if (!bytes || d !== 'corrupt') return bytes;
    const copy = Buffer.from(bytes);
    copy[0] ^= 0xff;
    return copy;
  }

  /**
   * Verify every chunk of a staged image against its manifest (real sha256 checks), check the
   * declared size, then admit: dedup against already admitted chunks. Throws Error(precise text).
   */
  admit(staged: StagedImage, declaredSizeBytes: number): AdmitResult {
    const m = staged.manifest;
    const imageHash = createHash('sha256');
    let total = 0;
    const verified: Array<[string, Buffer]> = [];
    for (const c of m.chunks) {
      const hex = c.digest.slice('sha256:'.length);
      const bytes = this.chunkBytes(staged, c);
      if (!bytes) throw new Error(`chunk ${c.index} (${c.digest}) of staged image ${staged.uri} is missing from the staging area`);
      const actual = sha256Hex(bytes);
      if (actual !== hex)
        throw new Error(
          `chunk ${c.index} of staged image ${staged.uri} is corrupt: manifest digest ${c.digest}, content hashes to sha256:${actual}`,
        );
      if (bytes.length !== c.size)
        throw new Error(`chunk ${c.index} of staged image ${staged.uri} has ${bytes.length} bytes, manifest says ${c.size}`);
      imageHash.update(bytes);
      total += bytes.length;
      verified.push([hex, bytes]);
    }
    if (total !== m.imageSizeBytes)
      throw new Error(`staged image ${staged.uri} holds ${total} bytes but its manifest declares ${m.imageSizeBytes}`);
    const imageDigest = `sha256:${imageHash.digest('hex')}`;
    if (imageDigest !== m.imageDigest)
      throw new Error(`staged image ${staged.uri} digest ${imageDigest} does not match manifest imageDigest ${m.imageDigest}`);
    if (declaredSizeBytes !== m.imageSizeBytes)
      throw new Error(`declared snapshotSizeBytes ${declaredSizeBytes} does not match the staged image size ${m.imageSizeBytes} bytes`);
    let novel = 0;
    let reused = 0;
    for (const [hex, bytes] of verified) {
      if (this.chunks.has(hex)) reused += bytes.length;
      else {
        this.chunks.set(hex, bytes);
        novel += bytes.length;
      }
    }
    this.novelBytes += novel;
    this.reusedBytes += reused;
    const manifestHex = sha256Hex(JSON.stringify(m));
    this.manifests.set(manifestHex, m);
    return {
      manifestDigest: `sha256:${manifestHex}`,
      manifestUri: `cas://tl-sim/manifests/sha256/${manifestHex}`,
      imageDigest,
      imageSizeBytes: m.imageSizeBytes,
      chunkCount: m.chunks.length,
      novelBytes: novel,
      reusedBytes: reused,
    };
  }

  stats(): ChunkStoreStats {
    let stagedBytes = 0;
    for (const b of this.staging.values()) stagedBytes += b.length;
    let bytes = 0;
    for (const b of this.chunks.values()) bytes += b.length;
    return {
      stagedImages: this.staged.size,
      stagedChunks: this.staging.size,
      stagedBytes,
      chunks: this.chunks.size,
      bytes,
      manifests: this.manifests.size,
      novelBytes: this.novelBytes,
      reusedBytes: this.reusedBytes,
    };
  }
}
