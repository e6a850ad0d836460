/**
 * Child process of `bench/perf.ts`: archives one directory with the action's createContextArchive
 * and prints one JSON line (time, sizes, digests, this process's peak RSS). Run bundled (esbuild)
 * so that the measured RSS is the archiver's, not a TypeScript loader's.
 */
import { dirname } from 'node:path';
import { createContextArchive } from '../src/context/archive.js';

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: archive-child <dir> [<output file in the directory to write to>]');
  const t0 = performance.now();
  const a = await createContextArchive(dir, { tmpDir: process.argv[3] ? dirname(process.argv[3]) : undefined });
  const ms = performance.now() - t0;
  const out = {
    ms,
    digest: a.digest,
    archiveDigest: a.archiveDigest,
    compressedBytes: a.compressedBytes,
    uncompressedBytes: a.uncompressedBytes,
    fileCount: a.fileCount,
    // kilobytes on Linux
    maxRssKiB: process.resourceUsage().maxRSS,
  };
  await a.cleanup();
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(String(e instanceof Error ? e.stack : e) + '\n');
  process.exit(1);
});
