import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LARGE_CONTEXT_BYTES, describeEntries, footprintOf, largestEntries } from '../../../src/context/footprint.js';
import { scanContext } from '../../../src/context/walk.js';
import { measureBuildContext } from '../../../src/pipeline/plan-phase.js';
import { contextTooLargeAdvice } from '../../../src/pipeline/upload.js';
import type { BuildEvents } from '../../../src/pipeline/events.js';
import { nullEvents } from '../fakes.js';
import type { BuildRequest } from '../../../src/pipeline/session.js';

const KiB = 1024;
const MiB = 1024 * KiB;

test('footprint: total, largest files, directories summed over everything below them', () => {
  const f = footprintOf([
    { path: 'a', type: 'dir', size: 0 },
    { path: 'a/b', type: 'dir', size: 0 },
    { path: 'a/b/big.bin', type: 'file', size: 5 * MiB },
    { path: 'a/small.txt', type: 'file', size: 10 },
    { path: 'empty', type: 'dir', size: 0 },
    { path: 'link', type: 'symlink', size: 0 },
    { path: 'top.log', type: 'file', size: 2 * MiB },
  ]);
  assert.equal(f.totalBytes, 7 * MiB + 10);
  assert.equal(f.fileCount, 3);
  assert.deepEqual(
    f.largestFiles.map((e) => e.path),
    ['a/b/big.bin', 'top.log', 'a/small.txt'],
  );
  assert.deepEqual(f.largestDirectories, [
    { path: 'a/', bytes: 5 * MiB + 10 },
    { path: 'a/b/', bytes: 5 * MiB },
  ]);
  assert.equal(describeEntries(largestEntries(f)), 'a/ (5.00 MiB), a/b/ (5.00 MiB), top.log (2.00 MiB), a/small.txt (10 B)');
});

async function tmpContext(files: Record<string, string | number>): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ctx-footprint-'));
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    await fsp.mkdir(path.dirname(p), { recursive: true });
    if (typeof content === 'number') {
      // a sparse file: its size without the disk space
      const fh = await fsp.open(p, 'w');
      await fh.truncate(content);
      await fh.close();
    } else await fsp.writeFile(p, content);
  }
  return dir;
}

function recording(): { events: BuildEvents; status: string[]; warnings: string[] } {
  const status: string[] = [];
  const warnings: string[] = [];
  return { events: { ...nullEvents, status: (m) => void status.push(m), warning: (m) => void warnings.push(m) }, status, warnings };
}

const request = (dir: string): BuildRequest =>
  ({
    source: { kind: 'dockerfile', dockerfile: path.join(dir, 'Dockerfile'), dockerfileInput: 'Dockerfile', context: dir },
  }) as BuildRequest;

test('the footprint of a walk applies .dockerignore (what docker build would send)', async () => {
  const dir = await tmpContext({
    Dockerfile: 'FROM x\n',
    '.dockerignore': 'node_modules\n',
    'node_modules/x.js': 'x'.repeat(4096),
    'a.txt': 'a',
  });
  try {
    const f = footprintOf((await scanContext(dir, { dockerfilePath: path.join(dir, 'Dockerfile') })).entries);
    assert.equal(f.fileCount, 3);
    assert.ok(!f.largestDirectories.some((d) => d.path === 'node_modules/'));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('planning reports size and largest entries, and warns above the documented size', async () => {
  const dir = await tmpContext({ Dockerfile: 'FROM x\n', 'data/huge.bin': LARGE_CONTEXT_BYTES + MiB, 'src/app.py': 'print(1)\n' });
  try {
    const r = recording();
    const f = await measureBuildContext(request(dir), r.events);
    assert.equal(f?.footprint.totalBytes, LARGE_CONTEXT_BYTES + MiB + 7 + 9);
    assert.match(r.status[0], /^Build context: 3 files, 501 MiB \(after \.dockerignore\)$/);
    assert.equal(r.status[1], 'Largest directories: data/ (501 MiB), src/ (9 B)');
    assert.match(r.status[2], /^Largest files: data\/huge\.bin \(501 MiB\), /);
    assert.equal(r.warnings.length, 1);
    assert.match(
      r.warnings[0],
      /^The build context is 501 MiB, more than 500 MiB: .* Largest: data\/ \(501 MiB\), .*Add what the build does not need to \.dockerignore/,
    );
    // below the size: no warning
    await fsp.truncate(path.join(dir, 'data/huge.bin'), MiB);
    const quiet = recording();
    await measureBuildContext(request(dir), quiet.events);
    assert.deepEqual(quiet.warnings, []);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('a 413 says the archive size and the largest entries in words, and to add them to .dockerignore', () => {
  const advice = contextTooLargeAdvice(3 * MiB + 512 * KiB, {
    totalBytes: 40 * MiB,
    fileCount: 1200,
    largestFiles: [{ path: 'dump.sql', bytes: 30 * MiB }],
    largestDirectories: [{ path: '.git/', bytes: 8 * MiB }],
  });
  assert.equal(
    advice,
    'The build context archive (3.50 MiB compressed, 40.0 MiB in 1200 files) is larger than the platform accepts; ' +
      'its largest entries: dump.sql (30.0 MiB), .git/ (8.00 MiB). Add those the build does not need to .dockerignore, ' +
      'or point the context input at a smaller directory.',
  );
  assert.doesNotMatch(advice, /\d{6,}/, 'no raw byte counts');
});
