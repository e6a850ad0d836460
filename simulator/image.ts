/**
 * The deterministic synthetic rootfs image the emulated builder "produces": a base layer
 * derived only from the base image (so builds on the same base share chunks), followed by an
 * application layer built from the Dockerfile and the extracted context files, padded with
 * seeded pseudo-random bytes to a 4 KiB multiple. Same inputs → byte-identical image.
 */
import { createHash } from 'node:crypto';

export interface ImageFile {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  data?: Buffer;
  target?: string;
}

/** deterministic pseudo-random bytes: sha256(seed || counter) blocks */
export function expand(seed: string, n: number): Buffer {
  const out = Buffer.alloc(n);
  let off = 0;
  for (let ctr = 0; off < n; ctr++) {
    const block = createHash('sha256').update(seed).update(String(ctr)).digest();
    off += block.copy(out, off);
  }
  return out;
}

export function syntheticImage(input: { baseImage: string; dockerfile: string; files: ImageFile[] }, chunkSize: number): Buffer {
  const base = expand(`tl-sim-base-layer:${input.baseImage}`, 4 * chunkSize);
  const parts: Buffer[] = [
    Buffer.from(`TLSIM-LAYER v1\nbase ${input.baseImage}\ndockerfile ${Buffer.byteLength(input.dockerfile)}\n`),
    Buffer.from(input.dockerfile),
  ];
  for (const f of [...input.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    if (f.type === 'file') {
      const data = f.data ?? Buffer.alloc(0);
      parts.push(Buffer.from(`\nfile ${f.path} ${f.mode.toString(8)} ${data.length}\n`), data);
    } else if (f.type === 'symlink') parts.push(Buffer.from(`\nsymlink ${f.path} -> ${f.target ?? ''}\n`));
    else parts.push(Buffer.from(`\ndir ${f.path} ${f.mode.toString(8)}\n`));
  }
  const layer = Buffer.concat(parts);
  const size = Math.ceil((layer.length + 4096) / 4096) * 4096;
  const pad = expand(`tl-sim-pad:${createHash('sha256').update(layer).digest('hex')}`, size - layer.length);
  return Buffer.concat([base, layer, pad]);
}
