/**
 * Generated build contexts for the benchmarks (deterministic for a name: a seeded PRNG, so two runs
 * of the bench archive the same bytes). Every tree has a `Dockerfile` at its root.
 *
 * - `small10k` / `small100k`: 10,000 / 100,000 text files of 40–400 B, 100 per directory;
 * - `mixed96`: 96 MiB, half incompressible blobs (12 × 4 MiB random), half text in 2,000 files;
 * - `mixed128` / `mixed1g`: 128 MiB / 1 GiB, half incompressible blobs of 8 MiB, half text files of
 *   64 KiB (100 per directory).
 *
 * Text is words drawn from a small vocabulary with numbers mixed in: gzip -6 gets it to about a third.
 * Random bytes are an AES-CTR keystream keyed by the seed (repeatable, unlike randomBytes).
 */
import { createCipheriv } from 'node:crypto';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { prng } from './lib.js';

export type TreeName = 'small10k' | 'small100k' | 'mixed96' | 'mixed128' | 'mixed1g';

export interface Tree {
  name: TreeName;
  label: string;
  dir: string;
  files: number;
  /** bytes of file data (Dockerfile included) */
  bytes: number;
}

const MiB = 1024 * 1024;
const WORDS =
  'the of and to in is that for it as with was on be by this are or from at an which but not have all were when there can more if out so what up use about into than them time only some could new other these two may first then do any like my now over such our man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three'.split(
    ' ',
  );

/** A buffer of text: words, punctuation and numbers from the PRNG. */
export function textBuffer(size: number, seed: number): Buffer {
  const r = prng(seed);
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    let line = '';
    const words = 4 + Math.floor(r() * 10);
    for (let i = 0; i < words; i++) {
      const w = r() < 0.12 ? String(Math.floor(r() * 100000)) : WORDS[Math.floor(r() * WORDS.length)];
      line += (i ? ' ' : '') + w;
    }
    line += r() < 0.3 ? ';\n' : '\n';
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

/** Incompressible bytes, the same for a seed: AES-128-CTR keystream (fast, and repeatable unlike randomBytes). */
export function randomBuffer(size: number, seed: number): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32LE(seed >>> 0, 0);
  const c = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(size)), c.final()]);
}

const DOCKERFILE = 'FROM python:3.12-slim\nWORKDIR /app\nCOPY . /app\n';

/** Writes `count` files through at most 64 concurrent writes. */
async function writeAll(items: Array<[string, Buffer | string]>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < items.length) {
        const [p, b] = items[next++];
        await writeFile(p, b);
      }
    }),
  );
}

async function smallFiles(dir: string, n: number): Promise<number> {
  const r = prng(n);
  const text = textBuffer(1 * MiB, 7);
  let bytes = 0;
  for (let d = 0; d * 100 < n; d++) {
    const sub = join(dir, `dir${String(d).padStart(4, '0')}`);
    await mkdir(sub, { recursive: true });
    const items: Array<[string, Buffer]> = [];
    for (let i = 0; i < Math.min(100, n - d * 100); i++) {
      const size = 40 + Math.floor(r() * 361);
      const off = Math.floor(r() * (text.length - size));
      items.push([join(sub, `file${i}.ts`), text.subarray(off, off + size)]);
      bytes += size;
    }
    await writeAll(items);
  }
  return bytes;
}

async function mixed(dir: string, totalMiB: number, blobMiB: number, textFiles: number): Promise<{ files: number; bytes: number }> {
  const half = (totalMiB * MiB) / 2;
  const blobs = Math.round(half / (blobMiB * MiB));
  await mkdir(join(dir, 'assets'), { recursive: true });
  for (let i = 0; i < blobs; i++) {
    const fh = await open(join(dir, 'assets', `blob${String(i).padStart(3, '0')}.bin`), 'w');
    try {
      for (let m = 0; m < blobMiB; m++) await fh.write(randomBuffer(MiB, i * 1000 + m + 1));
    } finally {
      await fh.close();
    }
  }
  const perFile = Math.floor(half / textFiles);
  const text = textBuffer(4 * MiB, 11);
  const r = prng(totalMiB);
  for (let d = 0; d * 100 < textFiles; d++) {
    const sub = join(dir, 'src', `pkg${String(d).padStart(3, '0')}`);
    await mkdir(sub, { recursive: true });
    const items: Array<[string, Buffer]> = [];
    for (let i = 0; i < Math.min(100, textFiles - d * 100); i++) {
      const off = Math.floor(r() * (text.length - perFile));
      items.push([join(sub, `module${i}.py`), text.subarray(off, off + perFile)]);
    }
    await writeAll(items);
  }
  return { files: blobs + textFiles, bytes: blobs * blobMiB * MiB + textFiles * perFile };
}

/** Creates the tree under `root/<name>` and returns its description. */
export async function makeTree(root: string, name: TreeName): Promise<Tree> {
  const dir = join(root, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), DOCKERFILE);
  let files: number;
  let bytes: number;
  let label: string;
  switch (name) {
    case 'small10k':
    case 'small100k': {
      files = name === 'small10k' ? 10_000 : 100_000;
      bytes = await smallFiles(dir, files);
      label = `${files / 1000}k files of 40–400 B`;
      break;
    }
    case 'mixed96': {
      ({ files, bytes } = await mixed(dir, 96, 4, 2000));
      label = '96 MiB: 48 MiB random blobs + 2,000 text files';
      break;
    }
    case 'mixed128':
    case 'mixed1g': {
      const mib = name === 'mixed128' ? 128 : 1024;
      ({ files, bytes } = await mixed(dir, mib, 8, mib * 8));
      label = `${mib === 1024 ? '1 GiB' : `${mib} MiB`} mixed: half random blobs, half 64 KiB text files`;
      break;
    }
  }
  return { name, label, dir, files: files + 1, bytes: bytes + DOCKERFILE.length };
}
