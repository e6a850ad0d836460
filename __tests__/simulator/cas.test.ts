/** cas-streaming: the hand-written client sequence end to end, dedup, and admission failures. */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, test } from '@jest/globals';
import { startSimulator, type SimulatorHandle } from '../../simulator/index.js';
import { buildFlow, FAST, obj, pollBuild, req, SCOPE } from './client.js';

let sim: SimulatorHandle;
beforeAll(async () => {
  // admission lasts at least 400 ms, so the first status read after /complete still sees it
  // running on a loaded machine
  sim = await startSimulator({ ...FAST, chunkSizeBytes: 16 * 1024, admissionBytesPerSecond: 4 * 1024 * 1024, admissionMinMs: 400 });
});
afterAll(() => sim.stop());

test('cas-streaming build: 202 ingesting, polled to a content-addressed template; a second identical build is deduplicated', async () => {
  const a = await buildFlow(sim, { name: 'cas-a' });
  assert.equal(a.prepared.rootfsFormat, 'cas-streaming');
  assert.match(a.prepared.snapshotRelPath, /\.pack$/);
  assert.equal(a.builder.info.exit_code, 0, JSON.stringify(a.builder.lines));
  assert.ok(
    a.builder.lines.some((l) => l.stream === 'stderr' && /\[\d+\/5\] RUN pip install/.test(l.line)),
    'one step line per instruction',
  );
  assert.deepEqual(Object.keys(a.metadata!).sort(), ['imageSizeBytes', 'rootfsFormat', 'snapshotId', 'stagedArtifact']);
  assert.equal(a.metadata!.stagedArtifact, 'chunked-ext4');
  assert.equal(a.complete!.status, 202);
  assert.deepEqual(obj(a.complete!).status, 'ingesting');

  const first = await req(sim, 'GET', `${SCOPE}/sandbox-template-builds/${a.buildId}`);
  assert.equal(obj(first).status, 'ingesting', 'admission takes time (polling is exercised)');
  const done = await pollBuild(sim, a.buildId);
  assert.ok(done.polls > 1);
  assert.equal(done.body.status, 'completed', JSON.stringify(done.body));
  const t = done.body.template;
  assert.match(t.imageDigest, /^sha256:[0-9a-f]{64}$/);
  assert.match(t.manifestUri, /^cas:\/\/tl-sim\/manifests\/sha256\/[0-9a-f]{64}$/);
  assert.equal(t.snapshotUri, t.manifestUri);
  assert.equal(t.manifestDigest, `sha256:${(t.manifestUri as string).split('/').pop()}`);
  assert.equal(t.snapshotFormatVersion, 'content_addressed_streaming_v1');
  assert.equal(t.snapshotSizeBytes, a.metadata!.imageSizeBytes);
  assert.equal(t.novelBytes, a.metadata!.imageSizeBytes);
  assert.equal(t.reusedBytes, 0);

  // visible to by-name lookups
  const byName = await req(sim, 'GET', `${SCOPE}/sandbox-templates/by-name/cas-a`);
  assert.equal(obj(byName).id, t.id);

  const st = sim.state();
  assert.equal(st.chunkStore.bytes, a.metadata!.imageSizeBytes);
  assert.equal(st.chunkStore.chunks, t.chunkCount);
  const build = st.builds.find((b) => b.buildId === a.buildId)!;
  assert.deepEqual(
    build.history.map((h) => h.status),
    ['prepared', 'ingesting', 'completed'],
  );
  assert.equal(st.sandboxes.find((s) => s.id === a.sb)!.contextArchives[0].files.length, 3);

  // identical inputs → identical image → every chunk reused
  const b = await buildFlow(sim, { name: 'cas-b' });
  assert.equal(b.complete!.status, 202);
  const done2 = await pollBuild(sim, b.buildId);
  assert.equal(done2.body.status, 'completed');
  const t2 = done2.body.template;
  assert.equal(t2.imageDigest, t.imageDigest);
  assert.equal(t2.manifestUri, t.manifestUri);
  assert.equal(t2.novelBytes, 0);
  assert.equal(t2.reusedBytes, a.metadata!.imageSizeBytes);
  assert.equal(sim.state().chunkStore.reusedBytes, a.metadata!.imageSizeBytes);

  // different context, same base: base-layer chunks are reused, the rest is novel
  const c = await buildFlow(sim, { name: 'cas-c', files: [{ name: 'main.py', data: 'print("other")\n' }] });
  const t3 = (await pollBuild(sim, c.buildId)).body.template;
  assert.notEqual(t3.imageDigest, t.imageDigest);
  assert.ok(t3.reusedBytes >= 4 * 16 * 1024, `base layer reused: ${t3.reusedBytes}`);
  assert.ok(t3.novelBytes > 0);
});

test('a corrupt staged chunk fails admission with the chunk and both digests named', async () => {
  sim.addFaults({ kind: 'corruptChunk', chunkIndex: 2 });
  const r = await buildFlow(sim, { name: 'cas-corrupt', dockerfile: 'FROM python:3.12-slim\nRUN echo corrupt\n' });
  assert.equal(r.complete!.status, 202);
  const done = await pollBuild(sim, r.buildId);
  assert.equal(done.body.status, 'failed');
  assert.match(
    done.body.error,
    /^chunk 2 of staged image s3:\/\/\S+\.pack is corrupt: manifest digest sha256:[0-9a-f]{64}, content hashes to sha256:[0-9a-f]{64}$/,
  );
  assert.equal(done.body.template, undefined);
  assert.equal((await req(sim, 'GET', `${SCOPE}/sandbox-templates/by-name/cas-corrupt`)).status, 404);
});

test('a missing staged chunk fails admission', async () => {
  sim.addFaults({ kind: 'dropChunk', chunkIndex: 0 });
  const r = await buildFlow(sim, { name: 'cas-missing', dockerfile: 'FROM python:3.12-slim\nRUN echo missing\n' });
  const done = await pollBuild(sim, r.buildId);
  assert.equal(done.body.status, 'failed');
  assert.match(done.body.error, /^chunk 0 \(sha256:[0-9a-f]{64}\) of staged image .* is missing from the staging area$/);
});

test('a declared size that differs from the staged image fails admission', async () => {
  const r = await buildFlow(sim, {
    name: 'cas-size',
    dockerfile: 'FROM python:3.12-slim\nRUN echo size\n',
    mutateComplete: (b) => (b.snapshotSizeBytes += 1),
  });
  assert.equal(r.complete!.status, 202);
  const done = await pollBuild(sim, r.buildId);
  assert.equal(done.body.status, 'failed');
  assert.equal(
    done.body.error,
    `declared snapshotSizeBytes ${r.metadata!.imageSizeBytes + 1} does not match the staged image size ${r.metadata!.imageSizeBytes} bytes`,
  );
});

test('admissionFail and admissionHang faults', async () => {
  sim.addFaults({ kind: 'admissionFail', message: 'chunk 3 digest mismatch (injected)' });
  const r = await buildFlow(sim, { name: 'cas-fail', dockerfile: 'FROM python:3.12-slim\nRUN echo fail\n' });
  const done = await pollBuild(sim, r.buildId);
  assert.deepEqual([done.body.status, done.body.error], ['failed', 'chunk 3 digest mismatch (injected)']);

  sim.addFaults({ kind: 'admissionHang' });
  const h = await buildFlow(sim, { name: 'cas-hang', dockerfile: 'FROM python:3.12-slim\nRUN echo hang\n' });
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(obj(await req(sim, 'GET', `${SCOPE}/sandbox-template-builds/${h.buildId}`)).status, 'ingesting');
  const f = sim.state().faults.find((x) => x.kind === 'admissionHang')!;
  assert.deepEqual([f.hits, f.remaining], [1, 0]);
});

test('completing a cas build twice is a 409; completing it as durable is a 400', async () => {
  const r = await buildFlow(sim, { name: 'cas-twice', dockerfile: 'FROM python:3.12-slim\nRUN echo twice\n' });
  const again = await req(sim, 'POST', `${SCOPE}/sandbox-template-builds/${r.buildId}/complete`, { json: { snapshotId: 'x' } });
  assert.equal(again.status, 409);
  assert.match(obj(again).error, /is 'ingesting', expected 'prepared'/);
  const d = await buildFlow(sim, {
    name: 'cas-as-durable',
    dockerfile: 'FROM python:3.12-slim\nRUN echo durable\n',
    mutateComplete: (b) => {
      delete b.rootfsFormat;
      b.snapshotFormatVersion = 'durable_archive_v1';
    },
  });
  assert.equal(d.complete!.status, 400);
  assert.match(obj(d.complete!).error, /prepared with rootfsFormat 'cas-streaming'/);
});

test('a completion whose rootfsDiskBytes is not the target the builder built for is a 400 (e.g. MiB sent as bytes)', async () => {
  const r = await buildFlow(sim, {
    name: 'cas-disk-units',
    dockerfile: 'FROM python:3.12-slim\nRUN echo units\n',
    mutateComplete: (b) => {
      b.rootfsDiskBytes = 10240;
    },
  });
  assert.equal(r.complete!.status, 400);
  assert.match(obj(r.complete!).error, /rootfsDiskBytes 10240 does not match the target the builder built for \(\d+ bytes\)/);
});
