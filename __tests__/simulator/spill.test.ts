/** Large uploads and extracted files live in host temp files, not memory, and are removed with the sandbox. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { startSimulator, type SimulatorHandle } from '../../simulator/index.js';
import { fileSize, MemFs, SPILL_BYTES } from '../../simulator/memfs.js';
import { extractTarGz } from '../../simulator/tar.js';
import { BUILD_DIR, FAST, obj, req, run, sandbox } from './client.js';

async function tarOf(files: Record<string, Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const [name, data] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, data);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const big = Buffer.alloc(SPILL_BYTES + 4096, 'x');
big.write('head', 0);
big.write('tail', big.length - 4);

test('extraction: a member above the spill size goes to a host file; removing it or disposing removes the file', async () => {
  const fs = new MemFs();
  fs.mkdir('/ctx', { user: 'root' });
  // two gzip members concatenated, as the action writes them
  const t = await tarOf({ 'big.bin': big, 'small.txt': Buffer.from('small') });
  fs.writeFile('/a.tgz', Buffer.concat([gzipSync(t.subarray(0, 1024 * 1024)), gzipSync(t.subarray(1024 * 1024))]), { user: 'root' });
  const r = await extractTarGz(fs, '/a.tgz', '/ctx', 'root');
  assert.equal(r.exitCode, 0, r.stderr.join('\n'));
  const node = fs.lstat('/ctx/big.bin');
  assert.ok(node?.type === 'file' && node.spill, 'spilled');
  assert.equal(node.data.length, 0, 'not in memory');
  assert.equal(fileSize(node), big.length);
  assert.equal(node.spill.sha256, createHash('sha256').update(big).digest('hex'));
  assert.deepEqual(fs.readFile('/ctx/big.bin'), big);
  const small = fs.lstat('/ctx/small.txt');
  assert.ok(small?.type === 'file' && !small.spill);
  const host = node.spill.path;
  assert.ok(existsSync(host));
  fs.remove('/ctx/big.bin');
  assert.ok(!existsSync(host), 'removed with the node');
  await extractTarGz(fs, '/a.tgz', '/ctx', 'root');
  const again = fs.lstat('/ctx/big.bin');
  assert.ok(again?.type === 'file' && again.spill && existsSync(again.spill.path));
  fs.dispose();
  assert.ok(!existsSync(again.spill.path), 'disposed');
});

let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator({ ...FAST });
});
afterAll(() => sim.stop());

test('a large PUT is streamed to a host file, extracted by tar -xzf, and removed when the sandbox is deleted', async () => {
  const sb = await sandbox(sim);
  const spillDirs = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('tl-sim-spill-'));
  const before = new Set(spillDirs());
  const archive = gzipSync(await tarOf({ 'big.bin': big }), { level: 0 });
  assert.ok(archive.length > SPILL_BYTES);
  await run(sim, sb, 'mkdir', ['-p', BUILD_DIR], { user: 'root' });
  await run(sim, sb, 'chmod', ['0777', BUILD_DIR], { user: 'root' });
  await run(sim, sb, 'mkdir', ['-p', `${BUILD_DIR}/context`]);
  const put = await req(sim, 'PUT', `/api/v1/files?path=${encodeURIComponent(`${BUILD_DIR}/context.tar.gz`)}`, {
    sandbox: sb,
    raw: archive,
  });
  assert.equal(put.status, 200, put.text);
  assert.equal(obj(put).size, archive.length);
  const mine = spillDirs().filter((n) => !before.has(n));
  assert.equal(mine.length, 1, 'one spill directory for the sandbox');
  const x = await run(sim, sb, 'tar', ['-xzf', `${BUILD_DIR}/context.tar.gz`, '-C', `${BUILD_DIR}/context`]);
  assert.equal(x.info.exit_code, 0, JSON.stringify(x.lines));
  const extracted = sim.state().sandboxes.find((s) => s.id === sb)?.contextArchives[0]?.files ?? [];
  assert.deepEqual(
    extracted.map((f) => [f.path, f.size]),
    [['big.bin', big.length]],
  );
  const got = await req(sim, 'GET', `/api/v1/files?path=${encodeURIComponent(`${BUILD_DIR}/context/big.bin`)}`, { sandbox: sb });
  assert.equal(got.status, 200);
  assert.equal(got.text.length, big.length, 'the extracted file reads back whole');
  assert.ok(got.text.startsWith('head') && got.text.endsWith('tail'));
  assert.equal((await req(sim, 'DELETE', `/v1/namespaces/default/sandboxes/${sb}`)).status, 200);
  // spill files removed with the sandbox (readdir's array is from Node's realm: expect compares across realms)
  expect(spillDirs().filter((n) => mine.includes(n))).toStrictEqual([]);
});
