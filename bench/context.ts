/**
 * Build-context archive benchmark: `node --import tsx bench/context.ts [files=10000] [bigMiB=256]`.
 * Creates a tree of small files (100 per directory) and one sparse big file in a temp dir, then
 * times the walk (scanContext) and the archive (createContextArchive), with peak RSS sampled
 * every 20 ms to show that memory stays bounded (only the entry list grows with the file count).
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createContextArchive } from '../src/context/archive.js';
import { scanContext } from '../src/context/walk.js';
import { formatBytes } from '../src/format.js';

const files = Number(process.argv[2] ?? 10_000);
const bigMiB = Number(process.argv[3] ?? 256);

async function measure<T>(label: string, fn: () => Promise<T>): Promise<T> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    clearInterval(timer);
    console.log(`${label}: ${(performance.now() - t0).toFixed(0)} ms, peak RSS ${formatBytes(peak)}`);
  }
}

const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'bench-context-'));
try {
  const many = path.join(root, 'many');
  for (let d = 0; d * 100 < files; d++) {
    const dir = path.join(many, `dir${String(d).padStart(5, '0')}`);
    await fsp.mkdir(dir, { recursive: true });
    const n = Math.min(100, files - d * 100);
    await Promise.all(Array.from({ length: n }, (_, f) => fsp.writeFile(path.join(dir, `file${f}.txt`), `content ${d}/${f}\n`)));
  }
  const scan = await measure(`scan ${files} files`, () => scanContext(many));
  console.log(`  ${scan.entries.length} entries, ${formatBytes(scan.totalBytes)}`);
  const a = await measure(`archive ${files} files`, () => createContextArchive(many));
  console.log(`  ${formatBytes(a.uncompressedBytes)} tar → ${formatBytes(a.compressedBytes)} gzip, ${a.digest}`);
  await a.cleanup();

  if (bigMiB > 0) {
    const big = path.join(root, 'big');
    await fsp.mkdir(big);
    const fh = await fsp.open(path.join(big, 'big.bin'), 'w');
    await fh.truncate(bigMiB * 1024 * 1024);
    await fh.close();
    const b = await measure(`archive one ${bigMiB} MiB file (level 1)`, () => createContextArchive(big, { gzipLevel: 1 }));
    console.log(`  ${formatBytes(b.uncompressedBytes)} tar → ${formatBytes(b.compressedBytes)} gzip`);
    await b.cleanup();
  }
} finally {
  await fsp.rm(root, { recursive: true, force: true });
}
