import { expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startBackgroundPackaging } from '../../../src/pipeline/background-package.js';
import type { BuildEvents } from '../../../src/pipeline/events.js';
import type { BuildSession } from '../../../src/pipeline/session.js';
import type { BuildPlan } from '../../../src/dockerfile/plan.js';
import { SecretRegistry } from '../../../src/secrets.js';
import { abortableSleep } from '../../../src/signals.js';

/** Every event a build emits, as `kind: text`, in order. */
function recorder(): { events: BuildEvents; seen: string[] } {
  const seen: string[] = [];
  const rec =
    (kind: string) =>
    (...a: unknown[]): void =>
      void seen.push(`${kind}: ${a.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(' ')}`);
  const events: BuildEvents = {
    phaseStart: rec('phaseStart'),
    phaseEnd: rec('phaseEnd'),
    status: rec('status'),
    buildLog: rec('buildLog'),
    progress: (p) => void seen.push(`progress: ${p.kind} ${p.percent}%`),
    planWarning: rec('planWarning'),
    warning: rec('warning'),
    sandboxNaming: rec('sandboxNaming'),
    sandboxNameSettled: rec('sandboxNameSettled'),
    sandboxCreated: rec('sandboxCreated'),
    sandboxDeleted: rec('sandboxDeleted'),
  };
  return { events, seen };
}

async function project(files: Record<string, string>): Promise<{ dir: string; out: string; plan: BuildPlan }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'bg-pkg-'));
  const out = path.join(dir, 'out');
  await fsp.mkdir(out);
  await fsp.mkdir(path.join(dir, 'ctx'));
  for (const [rel, text] of Object.entries(files)) await fsp.writeFile(path.join(dir, 'ctx', rel), text);
  const plan = { mode: 'dockerfile', contextDir: path.join(dir, 'ctx') } as BuildPlan;
  return { dir, out, plan };
}

function session(events: BuildEvents, tmp: string): BuildSession {
  return {
    req: { source: { kind: 'dockerfile', dockerfile: 'Dockerfile' } } as BuildSession['req'],
    deps: { events, secrets: new SecretRegistry(), log: { debug() {}, info() {}, warning() {} }, env: { RUNNER_TEMP: tmp } },
    events,
    limits: {} as BuildSession['limits'],
    now: () => performance.now(),
    sleep: abortableSleep,
  };
}

test('what packaging reports while other phases run is held, then replayed where it is collected, with the overlap said', async () => {
  const { dir, out, plan } = await project({ Dockerfile: 'FROM scratch\n', 'a.txt': 'a' });
  try {
    const { events, seen } = recorder();
    const bg = startBackgroundPackaging(session(events, out), {
      plan,
      credentials: { registries: ['ghcr.io'], dockerConfigJson: '{}' },
      onArchived: () => undefined,
    });
    // let it finish without collecting: nothing reaches the events yet
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toStrictEqual([]);
    assert.equal(bg.failure(), undefined);
    seen.push('-- collect --');
    const pkg = await bg.collect(events);
    assert.deepEqual(pkg.registries, ['ghcr.io'], 'credentials read earlier come back with the archive');
    assert.equal(pkg.dockerConfigJson, '{}');
    assert.ok(pkg.archive && existsSync(pkg.archive.path));
    assert.equal(seen[0], '-- collect --');
    assert.match(seen[1], /^status: Creating build context archive from /);
    assert.ok(
      seen.some((l) => /^status: Build context archive: 2 files/.test(l)),
      seen.join('\n'),
    );
    assert.equal(seen.filter((l) => l.startsWith('progress: archive')).length, 1, 'only the latest progress line is replayed');
    assert.match(seen[seen.length - 1], /^status: Packaged in \S+ while the platform prepared the build .*waited \S+ for it/);
    await pkg.archive.cleanup();
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('a failure is visible before collecting, and collecting throws it after replaying what was reported', async () => {
  const { dir, plan } = await project({ Dockerfile: 'FROM scratch\n' });
  try {
    const { events, seen } = recorder();
    const bg = startBackgroundPackaging(session(events, path.join(dir, 'missing')), {
      plan,
      credentials: { registries: [] },
      onArchived: () => undefined,
    });
    for (let i = 0; i < 100 && bg.failure() === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(String((bg.failure() as Error).message), /Cannot create the build context archive in/);
    await assert.rejects(bg.collect(events), /Cannot create the build context archive/);
    assert.match(seen[0], /^status: Creating build context archive/);
    assert.ok(!seen.some((l) => l.includes('Packaged in')), 'no overlap line for a failure');
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('abandoning stops packaging and leaves no archive behind', async () => {
  const files: Record<string, string> = { Dockerfile: 'FROM scratch\n' };
  for (let i = 0; i < 40; i++) files[`f${i}.bin`] = 'x'.repeat(500_000);
  const { dir, out, plan } = await project(files);
  try {
    const { events } = recorder();
    const bg = startBackgroundPackaging(session(events, out), { plan, credentials: { registries: [] }, onArchived: () => undefined });
    await bg.abandon();
    expect(await fsp.readdir(out)).toStrictEqual([]);
    // abandoning one that already finished removes its archive too
    const done = startBackgroundPackaging(session(events, out), { plan, credentials: { registries: [] }, onArchived: () => undefined });
    await new Promise((r) => setTimeout(r, 300));
    await done.abandon();
    expect(await fsp.readdir(out)).toStrictEqual([]);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('abandoning a packaging that is writing its archive stops it there and removes the partial archive', async () => {
  const files: Record<string, string> = { Dockerfile: 'FROM scratch\n' };
  for (let i = 0; i < 60; i++) files[`f${String(i).padStart(2, '0')}.txt`] = `${i} `.repeat(400_000);
  const { dir, out, plan } = await project(files);
  try {
    const { events } = recorder();
    const bg = startBackgroundPackaging(session(events, out), { plan, credentials: { registries: [] }, onArchived: () => undefined });
    // wait until the archive file exists: packaging is under way
    for (let i = 0; i < 2000 && (await fsp.readdir(out)).length === 0; i++) await new Promise((r) => setTimeout(r, 1));
    expect((await fsp.readdir(out)).length).toBe(1);
    await bg.abandon();
    assert.equal(bg.elapsedMs(), undefined, 'packaging never finished');
    assert.match(String((bg.failure() as Error).message), /cancelled/);
    expect(await fsp.readdir(out)).toStrictEqual([]);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('the context summary reaches the result when packaging is collected, never while other phases run or once abandoned', async () => {
  const { dir, out, plan } = await project({ Dockerfile: 'FROM scratch\n', 'a.txt': 'a' });
  try {
    const { events } = recorder();
    const summaries: unknown[] = [];
    const input = { plan, credentials: { registries: [] }, onArchived: (c: unknown) => void summaries.push(c) };
    const abandoned = startBackgroundPackaging(session(events, out), input);
    const collected = startBackgroundPackaging(session(events, out), input);
    // both finish meanwhile
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(abandoned.elapsedMs() !== undefined && collected.elapsedMs() !== undefined, 'both finished');
    expect(summaries).toStrictEqual([]);
    await abandoned.abandon();
    expect(summaries).toStrictEqual([]);
    const pkg = await collected.collect(events);
    assert.equal(summaries.length, 1);
    assert.equal(summaries[0], pkg.context);
    await pkg.archive?.cleanup();
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
