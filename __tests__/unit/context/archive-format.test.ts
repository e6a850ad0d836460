/**
 * The archive's bytes: the tar stream is what tar-stream would write for the same entries (so the
 * context digest kept its meaning when the writer was replaced), the gzip side is several members
 * (blocks compressed in parallel, incompressible pieces stored), and GNU tar and the simulator
 * extract it to the same files.
 */
import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { BLOCK_BYTES, blockRuns, createContextArchive } from '../../../src/context/archive.js';
import { scanContext } from '../../../src/context/walk.js';
import { MemFs } from '../../../simulator/memfs.js';
import { extractTarGz } from '../../../simulator/tar.js';

const MiB = 1024 * 1024;

function random(size: number, seed: number): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32LE(seed, 0);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}
function text(size: number, seed: number): Buffer {
  let s = '';
  let i = seed;
  while (s.length < size) s += `line ${i++}: export const value${i % 97} = ${(i * 7919) % 10007}; // ${'abc'.repeat(i % 5)}\n`;
  return Buffer.from(s.slice(0, size));
}

/** A tree that spans several blocks: text, random blobs, long and non-ASCII names, symlinks, empty files and dirs. */
async function makeTree(root: string): Promise<void> {
  const files: Record<string, Buffer> = {
    Dockerfile: Buffer.from('FROM scratch\nCOPY . /\n'),
    'src/app.py': text(300_000, 1),
    'src/empty.txt': Buffer.alloc(0),
    'assets/blob.bin': random(3 * MiB + 123, 2),
    'assets/small.bin': random(5000, 3),
    'mixed/half.dat': Buffer.concat([text(700_000, 4), random(700_000, 5)]),
    [`deep/${'d'.repeat(120)}/${'e'.repeat(140)}/${'f'.repeat(90)}.txt`]: text(2000, 6),
    'ü/é.txt': Buffer.from('unicode'),
  };
  for (let i = 0; i < 300; i++) files[`many/f${String(i).padStart(3, '0')}.ts`] = text(40 + ((i * 37) % 400), i);
  for (const [rel, data] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fsp.writeFile(path.join(root, rel), data);
  }
  await fsp.chmod(path.join(root, 'src/app.py'), 0o755);
  await fsp.mkdir(path.join(root, 'emptydir'));
  await fsp.symlink('../src/app.py', path.join(root, 'assets/link'));
  await fsp.symlink(`/opt/${'t'.repeat(150)}`, path.join(root, 'long-link'));
}

/** The same entries through tar-stream (the writer the archive used before): the reference bytes. */
async function tarStreamBytes(dir: string): Promise<Buffer> {
  const scan = await scanContext(dir);
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  const common = { uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0) };
  for (const e of scan.entries) {
    if (e.type === 'dir') pack.entry({ ...common, mode: e.mode, name: `${e.path}/`, type: 'directory' });
    else if (e.type === 'symlink') pack.entry({ ...common, mode: e.mode, name: e.path, type: 'symlink', linkname: e.linkTarget });
    else pack.entry({ ...common, mode: e.mode, name: e.path, type: 'file' }, await fsp.readFile(path.join(dir, e.path)));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** gzip member headers (magic, deflate, no flags, mtime 0, any XFL, OS unix) in a .gz file; the tree holds no .gz files. */
function members(gz: Buffer): number {
  let n = 0;
  const magic = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0]);
  for (let i = gz.indexOf(magic); i !== -1; i = gz.indexOf(magic, i + 1)) if (gz[i + 9] === 3) n++;
  return n;
}

async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const d of (await fsp.readdir(path.join(root, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      const st = await fsp.lstat(path.join(root, r));
      if (d.isDirectory()) {
        out.push(`dir ${r} ${(st.mode & 0o7777).toString(8)}`);
        await walk(r);
      } else if (d.isSymbolicLink()) out.push(`symlink ${r} -> ${await fsp.readlink(path.join(root, r))}`);
      else {
        const sum = createHash('sha256')
          .update(await fsp.readFile(path.join(root, r)))
          .digest('hex');
        out.push(`file ${r} ${(st.mode & 0o7777).toString(8)} ${st.size} ${sum}`);
      }
    }
  };
  await walk('');
  return out;
}

test('multi-block archive: tar bytes as tar-stream writes them, several gzip members, stored blobs, deterministic', async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'ctx-format-'));
  try {
    const ctx = path.join(root, 'ctx');
    await fsp.mkdir(ctx);
    await makeTree(ctx);
    const a = await createContextArchive(ctx, { tmpDir: root });
    const b = await createContextArchive(ctx, { tmpDir: root });
    const gz = await fsp.readFile(a.path);
    assert.deepEqual(gz, await fsp.readFile(b.path), 'same tree, same bytes');
    assert.equal(a.archiveDigest, b.archiveDigest);

    const tarBytes = zlib.gunzipSync(gz); // every member, in order
    assert.equal(tarBytes.length, a.uncompressedBytes);
    assert.ok(tarBytes.length > 4 * BLOCK_BYTES, `spans several blocks (${tarBytes.length} B)`);
    assert.deepEqual(tarBytes, await tarStreamBytes(ctx), 'the tar stream is byte for byte what tar-stream writes');
    assert.equal(
      a.digest,
      `sha256:${createHash('sha256').update(tarBytes).digest('hex')}`,
      'context digest = sha256 of the uncompressed tar',
    );

    const n = members(gz);
    assert.ok(n >= Math.ceil(tarBytes.length / BLOCK_BYTES), `one or more gzip members per block (${n})`);
    // the 3 MiB random blob is stored, not deflated: the archive is barely larger than the random data
    assert.ok(a.compressedBytes < 3 * MiB + 700_000 + 400_000, `compressed ${a.compressedBytes}`);

    // a different level changes the gzip bytes only
    const l6 = await createContextArchive(ctx, { tmpDir: root, gzipLevel: 6 });
    assert.equal(l6.digest, a.digest);
    assert.notEqual(l6.archiveDigest, a.archiveDigest);
    for (const x of [a, b, l6]) if (x !== a) await x.cleanup();

    // GNU tar and the simulator extract the same files, modes, links and bytes
    const gnuDir = path.join(root, 'gnu');
    await fsp.mkdir(gnuDir);
    execFileSync('tar', ['-xzf', a.path, '-C', gnuDir]);
    const gnu = await listTree(gnuDir);
    const fs = new MemFs();
    fs.mkdir('/ctx', { user: 'root' });
    fs.writeFile('/a.tar.gz', gz, { user: 'root' });
    const r = await extractTarGz(fs, '/a.tar.gz', '/ctx', 'root');
    assert.equal(r.exitCode, 0, r.stderr.join('\n'));
    const sim: string[] = [];
    for (const { path: p, node } of fs.walk('/ctx')) {
      if (node.type === 'dir') sim.push(`dir ${p} ${node.mode.toString(8)}`);
      else if (node.type === 'symlink') sim.push(`symlink ${p} -> ${node.target}`);
      else {
        const data = fs.readFile(`/ctx/${p}`);
        sim.push(`file ${p} ${node.mode.toString(8)} ${data.length} ${createHash('sha256').update(data).digest('hex')}`);
      }
    }
    assert.deepEqual(sim, gnu);
    assert.deepEqual(
      await listTree(ctx).then((l) => l.filter((x) => !x.startsWith('dir '))),
      gnu.filter((x) => !x.startsWith('dir ')),
    );
    await a.cleanup();
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
});

test('stored or deflated per 64 KiB piece, from the bytes alone', () => {
  const block = Buffer.concat([text(128 * 1024, 1), random(192 * 1024, 2), text(64 * 1024, 3)]);
  assert.deepEqual(blockRuns(block), [
    [0, 128 * 1024, false],
    [128 * 1024, 320 * 1024, true],
    [320 * 1024, 384 * 1024, false],
  ]);
  assert.deepEqual(blockRuns(Buffer.alloc(1000)), [[0, 1000, false]]);
});
