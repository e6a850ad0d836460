/**
 * End to end: several images in one step (the `images` input) through the bundled action, against
 * the simulator: concurrency bound, dependency order with diff builds, failures with and without
 * fail-fast, and skip-unchanged across runs (nothing changed, one file changed, a deleted template).
 */
import { describe, it } from '@jest/globals';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simulatorForSuite, makeProject, run, assertNoSandboxRunning, type ActionRun, type SimulatorHandle } from './support.js';
import { req } from '../simulator/client.js';

/** Every ::group:: block holds only lines of the image its title names; returns the titles. */
function assertGroupsPerImage(r: ActionRun): string[] {
  const titles: string[] = [];
  let current: string | undefined;
  for (const line of r.stdout.split('\n')) {
    const g = /^::group::\[([^\]]+)\] (.*)$/.exec(line);
    if (g) {
      assert.equal(current, undefined, `group '${line}' opened inside the group of ${current}`);
      current = g[1];
      titles.push(`${g[1]}: ${g[2]}`);
      continue;
    }
    if (line === '::endgroup::') {
      current = undefined;
      continue;
    }
    if (current === undefined || line.startsWith('::') || line === '') continue;
    assert.ok(line.startsWith(`[${current}] `), `line in the group of ${current} belongs to another image: ${line}`);
  }
  return titles;
}

function results(r: ActionRun): Record<string, Record<string, string>> {
  assert.ok(r.outputs.results, `results output set; stdout:\n${r.stdout.slice(-3000)}`);
  return JSON.parse(r.outputs.results) as Record<string, Record<string, string>>;
}

const RUNS = (n: number) => Array.from({ length: n }, (_, i) => `RUN echo step ${i}`).join('\n');

function chainProject(extra: Record<string, string> = {}): Promise<string> {
  return makeProject({
    'images/base/Dockerfile': 'FROM python:3.12-slim\nCOPY base.txt /base.txt\nRUN echo base\n',
    'images/base/base.txt': 'base v1\n',
    'images/app/Dockerfile': 'FROM base\nCOPY app.txt /app.txt\nRUN echo app\n',
    'images/app/app.txt': 'app v1\n',
    'images/other/Dockerfile': 'FROM ubuntu:24.04\nCOPY other.txt /other.txt\nRUN echo other\n',
    'images/other/other.txt': 'other v1\n',
    ...extra,
  });
}

const CHAIN = [
  '- dockerfile: images/app/Dockerfile',
  '- dockerfile: images/base/Dockerfile',
  '- dockerfile: images/other/Dockerfile',
  '',
].join('\n');

describe('images: several images in one step (dist/index.js)', () => {
  let s: SimulatorHandle;
  simulatorForSuite((h) => (s = h), { builderLineDelayMs: 15 });

  it('three independent images with max-parallel 2: never more than 2 builder sandboxes alive, one group set per image', async () => {
    s.reset();
    const ws = await makeProject({
      'a/Dockerfile': `FROM python:3.12-slim\n${RUNS(8)}\n`,
      'b/Dockerfile': `FROM python:3.12-slim\n${RUNS(8)}\n`,
      'c/Dockerfile': `FROM python:3.12-slim\n${RUNS(8)}\n`,
    });
    const r = await run(s, ws, {
      images: '- dockerfile: a/Dockerfile\n- dockerfile: b/Dockerfile\n  name: bee\n  disk-mb: 2048\n- dockerfile: c/Dockerfile\n',
      'max-parallel': '2',
      'disk-mb': '4096',
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const st = s.state();
    assert.equal(st.sandboxes.length, 3);
    assert.equal(st.maxConcurrentSandboxes, 2, 'two builds overlapped, and never a third');
    const res = results(r);
    assert.deepEqual(Object.keys(res).sort(), ['a', 'bee', 'c']);
    for (const [name, o] of Object.entries(res)) {
      assert.equal(o.status, 'registered', name);
      assert.equal(o['cache-hit'], 'false');
      assert.equal(o['template-name'], name);
      assert.ok(
        st.templates.some((t) => t.id === o['template-id']),
        `${name}'s template is registered`,
      );
    }
    // the entry's own value wins, the step's value is inherited otherwise
    const disk = (name: string) => st.builds.find((b) => b.name === name)!.completeRequests[0] as Record<string, number>;
    assert.equal(disk('bee').rootfsDiskBytes, 2048 * 1024 * 1024);
    assert.equal(disk('a').rootfsDiskBytes, 4096 * 1024 * 1024);
    assert.equal(r.outputs.status, 'registered');
    assert.equal(r.outputs['template-id'], undefined, 'single-image outputs only for a single image');
    const titles = assertGroupsPerImage(r);
    for (const n of ['a', 'bee', 'c']) assert.ok(titles.includes(`${n}: Build`) && titles.includes(`${n}: Cleanup`), `${n} has its groups`);
    // every builder log line the simulator produced reached the log, whole, in its image's group
    for (const b of st.sandboxes) {
      const buildId = (b.specs[0].spec as { buildId: string }).buildId;
      const name = st.builds.find((x) => x.buildId === buildId)!.name;
      const builder = b.processes.find((p) => p.command.endsWith('tl-rootfs-build'))!;
      for (const o of builder.output) assert.ok(r.lines.includes(`[${name}] ${o.line}`), `whole line: ${o.line}`);
    }
    assert.equal((r.summary.match(/^\| `(a|bee|c)` \| ✅ registered/gm) ?? []).length, 3, r.summary);
    assertNoSandboxRunning(s);
  });

  it('a chain base → app: app is built after base, as a diff on the template base just registered', async () => {
    s.reset();
    const ws = await chainProject();
    const r = await run(s, ws, { images: CHAIN, 'max-parallel': '3' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const res = results(r);
    const st = s.state();
    const base = st.builds.find((b) => b.name === 'base')!;
    const app = st.builds.find((b) => b.name === 'app')!;
    // app was prepared only after base completed
    const baseDone = Date.parse(base.history.find((h) => h.status === 'completed')!.at);
    const appPrepared = Date.parse(app.history[0].at);
    assert.ok(appPrepared >= baseDone, 'app prepared after base registered');
    const prep = app.prepareRequest as { rootfsNodeKind: string; parentTemplate: { templateId: string } | null };
    assert.equal(prep.rootfsNodeKind, 'diff');
    assert.equal(prep.parentTemplate?.templateId, res.base['template-id'], 'app is a diff on the base built in this step');
    assert.equal(res.app.layer as unknown as number, 1);
    assert.equal(res.base.layer as unknown as number, 0);
    assert.match(r.summary, /\| `app` \| ✅ registered .*\| ext4, diff on `base` \| 1 \|/);
    assertGroupsPerImage(r);
  });

  it('one failing image without fail-fast: the others build, its dependents are skipped and say why', async () => {
    s.reset();
    s.addFaults({ kind: 'builderFail', templateName: 'base', exitCode: 3 });
    const ws = await chainProject();
    const r = await run(s, ws, { images: CHAIN });
    assert.equal(r.code, 1);
    const res = results(r);
    assert.equal(res.base.status, 'failed');
    assert.match(res.base.error, /exit code 3/);
    assert.equal(res.other.status, 'registered');
    assert.equal(res.app.status, 'skipped');
    assert.equal(res.app.reason, "not built: it builds on 'base', which failed");
    assert.ok(r.lines.includes("[app] not built: it builds on 'base', which failed"));
    assert.equal(r.outputs.status, 'failed');
    assert.match(
      r.stdout,
      /::error::2 of 3 images not built:%0Aapp: skipped: not built: it builds on 'base', which failed%0Abase: failed: Command/,
    );
    assert.match(r.summary, /\| `app` \| ⏭️ skipped .*not built: it builds on &#39;base&#39;, which failed \|/);
    assert.match(r.summary, /### ❌ `base`/);
    assert.equal(s.state().builds.filter((b) => b.name === 'app').length, 0, 'app never prepared');
    assertNoSandboxRunning(s);
  });

  it('one failing image with fail-fast: the others are cancelled and their sandboxes deleted', async () => {
    s.reset();
    s.addFaults({ kind: 'builderFail', templateName: 'quick', afterLines: 4 });
    const ws = await makeProject({
      'slow1/Dockerfile': `FROM python:3.12-slim\n${RUNS(60)}\n`,
      'slow2/Dockerfile': `FROM python:3.12-slim\n${RUNS(60)}\n`,
      'quick/Dockerfile': `FROM python:3.12-slim\nRUN false\n`,
      'later/Dockerfile': `FROM python:3.12-slim\nRUN true\n`,
    });
    const images = ['slow1', 'slow2', 'quick', 'later'].map((d) => `- dockerfile: ${d}/Dockerfile`).join('\n');
    const r = await run(s, ws, { images, 'fail-fast': 'true', 'max-parallel': '3' });
    assert.equal(r.code, 1);
    const res = results(r);
    assert.equal(res.quick.status, 'failed');
    for (const n of ['slow1', 'slow2']) {
      assert.equal(res[n].status, 'cancelled', n);
      assert.equal(res[n].reason, "cancelled by fail-fast: 'quick' failed");
    }
    assert.equal(res.later.status, 'cancelled');
    assert.equal(res.later.reason, "not started: fail-fast, 'quick' failed");
    const st = s.state();
    assert.equal(st.sandboxes.length, 3, 'later never got a sandbox');
    for (const sb of st.sandboxes) assert.ok(sb.deletedAt, `sandbox ${sb.id} deleted by the action`);
    assertNoSandboxRunning(s);
    assertGroupsPerImage(r);
  });

  it('skip-unchanged: a second run creates no sandbox; one changed file rebuilds that image and its dependents; a deleted template is rebuilt', async () => {
    s.reset();
    const ws = await chainProject();
    const inputs = { images: CHAIN, 'skip-unchanged': 'true' };
    const first = await run(s, ws, inputs);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    for (const o of Object.values(results(first))) assert.equal(o['cache-hit'], 'false');
    const firstRes = results(first);

    // nothing changed: no sandbox, no build, every output from the registered template
    const before = s.state();
    const second = await run(s, ws, inputs);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    const after = s.state();
    assert.equal(after.sandboxes.length, before.sandboxes.length, 'no builder sandbox created');
    assert.equal(after.builds.length, before.builds.length, 'no build prepared');
    const res2 = results(second);
    for (const n of ['base', 'app', 'other']) {
      assert.equal(res2[n].status, 'registered');
      assert.equal(res2[n]['cache-hit'], 'true');
      assert.equal(res2[n]['template-id'], firstRes[n]['template-id']);
      assert.equal(res2[n]['build-digest'], firstRes[n]['build-digest']);
      assert.ok(
        second.lines.some((l) => l.startsWith(`[${n}] skipping the build: unchanged: template '${n}'`)),
        `${n} says why`,
      );
    }
    assert.match(second.summary, /\| `base` \| ✅ registered \| hit \|/);

    // one file in base's context changed: base and app (built on it) rebuild, other does not
    await writeFile(join(ws, 'images/base/base.txt'), 'base v2\n');
    const third = await run(s, ws, inputs);
    assert.equal(third.code, 0, third.stdout + third.stderr);
    const res3 = results(third);
    assert.equal(res3.other['cache-hit'], 'true');
    assert.equal(res3.base['cache-hit'], 'false');
    assert.equal(res3.app['cache-hit'], 'false');
    const short = (d: string) => d.slice(0, 19);
    assert.equal(res3.base.reason, `inputs changed: digest ${short(firstRes.base['build-digest'])} → ${short(res3.base['build-digest'])}`);
    assert.match(res3.app.reason, /^inputs changed: digest /, 'app changed through its parent digest');
    assert.ok(third.lines.includes(`[base] rebuilding: ${res3.base.reason}`));
    assert.ok(third.summary.includes(res3.base.reason), 'summary says why');
    const st3 = s.state();
    assert.deepEqual(
      st3.builds
        .slice(before.builds.length)
        .map((b) => b.name)
        .sort(),
      ['app', 'base'],
    );
    const appPrep = st3.builds.filter((b) => b.name === 'app').at(-1)!.prepareRequest as { parentTemplate: { templateId: string } };
    assert.equal(appPrep.parentTemplate.templateId, res3.base['template-id'], 'app rebuilt on the new base');

    // a deleted template is rebuilt (and nothing else)
    // a one-off connection (no keep-alive pool left behind): the platform's own DELETE of a template
    const del = await req(s, 'DELETE', '/platform/v1/sandbox-templates/other');
    assert.equal(del.status, 204);
    const n3 = s.state().builds.length;
    const fourth = await run(s, ws, inputs);
    assert.equal(fourth.code, 0, fourth.stdout + fourth.stderr);
    const res4 = results(fourth);
    assert.equal(res4.other['cache-hit'], 'false');
    assert.equal(res4.other.reason, "no template named 'other' exists yet");
    assert.equal(res4.base['cache-hit'], 'true');
    assert.equal(res4.app['cache-hit'], 'true');
    assert.deepEqual(
      s
        .state()
        .builds.slice(n3)
        .map((b) => b.name),
      ['other'],
    );
    assertNoSandboxRunning(s);
  });

  it('SIGINT cancels every image and deletes every builder sandbox; SIGKILL leaves them to the post step, which finds them all', async () => {
    s.reset();
    const ws = await makeProject({
      'a/Dockerfile': `FROM python:3.12-slim\n${RUNS(200)}\n`,
      'b/Dockerfile': `FROM python:3.12-slim\n${RUNS(200)}\n`,
    });
    const images = '- dockerfile: a/Dockerfile\n- dockerfile: b/Dockerfile\n';
    const both = /\[a\] .*step 3[\s\S]*\[b\] .*step 3|\[b\] .*step 3[\s\S]*\[a\] .*step 3/;
    const r = await run(s, ws, { images }, { killOn: { pattern: both, signal: 'SIGINT' } });
    assert.equal(r.code, 1);
    const res = results(r);
    assert.equal(res.a.status, 'cancelled');
    assert.equal(res.b.status, 'cancelled');
    assert.equal(s.state().sandboxes.length, 2);
    for (const sb of s.state().sandboxes) assert.ok(sb.deletedAt, `sandbox ${sb.id} deleted by the action`);
    assert.ok(r.exitAfterSignalMs! < 7500, `exited within GitHub's grace period (${r.exitAfterSignalMs} ms)`);

    s.reset();
    const killed = await run(s, ws, { images }, { killOn: { pattern: both, signal: 'SIGKILL' } });
    assert.equal(killed.signal, 'SIGKILL');
    const saved = JSON.parse(killed.state['builder-sandboxes']) as string[];
    assert.deepEqual(
      saved.sort(),
      s
        .state()
        .sandboxes.map((x) => x.id)
        .sort(),
      "both builds' sandboxes saved for the post step",
    );
    const post = await run(s, ws, { images }, { post: true, state: { 'builder-sandboxes': killed.state['builder-sandboxes'] } });
    assert.equal(post.code, 0, post.stdout + post.stderr);
    assertNoSandboxRunning(s);
  });

  it('skip-unchanged on a single-image step: the second run builds nothing and sets the single-image outputs with cache-hit', async () => {
    s.reset();
    const ws = await chainProject();
    const inputs = { dockerfile: 'images/other/Dockerfile', 'skip-unchanged': 'true' };
    const first = await run(s, ws, inputs);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.equal(first.outputs['cache-hit'], 'false');
    assert.match(first.outputs['build-digest'], /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(
      first.groups,
      ['Plan', 'Prepare', 'Builder sandbox', 'Package', 'Upload context', 'Build', 'Complete', 'Cleanup'],
      'no prefix for one image',
    );
    const n = s.state().sandboxes.length;
    const second = await run(s, ws, inputs);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.equal(s.state().sandboxes.length, n, 'no sandbox');
    assert.equal(second.outputs['cache-hit'], 'true');
    assert.equal(second.outputs.status, 'registered');
    assert.equal(second.outputs['template-id'], first.outputs['template-id']);
    assert.equal(second.outputs['build-digest'], first.outputs['build-digest']);
    assert.equal(second.outputs.results, undefined, 'results only with images');
  });

  it('dry-run with images: the matrix lists what needs a build with its layer, and no sandbox is created', async () => {
    s.reset();
    const ws = await chainProject();
    await run(s, ws, { images: '- dockerfile: images/other/Dockerfile\n', 'skip-unchanged': 'true' });
    const n = s.state().sandboxes.length;
    const r = await run(s, ws, { images: CHAIN, 'skip-unchanged': 'true', 'dry-run': 'true' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(s.state().sandboxes.length, n, 'no sandbox');
    const matrix = JSON.parse(r.outputs.matrix) as Array<Record<string, unknown>>;
    assert.deepEqual(matrix, [
      { dockerfile: 'images/app/Dockerfile', name: 'app', layer: 1, needs: 'base' },
      { dockerfile: 'images/base/Dockerfile', name: 'base', layer: 0 },
    ]);
    assert.equal(results(r).other['cache-hit'], 'true');
    assert.equal(r.outputs.status, 'planned');
  });

  it('invalid images input: errors name the entry, before any network call', async () => {
    s.reset();
    const ws = await chainProject({ 'images/loop1/Dockerfile': 'FROM loop2\n', 'images/loop2/Dockerfile': 'FROM loop1\n' });
    const cases: Array<[string, RegExp]> = [
      [
        '- dockerfile: images/base/Dockerfile\n  disk_mb: 10\n',
        /Input 'images', entry 1 \(images\/base\/Dockerfile\): unknown key 'disk_mb' \(did you mean 'disk-mb'\?\)/,
      ],
      [
        '- dockerfile: images/base/Dockerfile\n- dockerfile: images/app/Dockerfile\n  name: base\n',
        /entry 2 \(base\): the image name 'base' is also the name of entry 1/,
      ],
      [
        '- dockerfile: images/nope/Dockerfile\n',
        /entry 1 \(images\/nope\/Dockerfile\): Input 'dockerfile': Dockerfile not found: images\/nope\/Dockerfile/,
      ],
      [
        '- dockerfile: images/base/Dockerfile\n  streaming: true\n- dockerfile: images/app/Dockerfile\n',
        /entry 2 \(images\/app\/Dockerfile\): builds on 'base' \(entry 1\), which is a streaming/,
      ],
      ['- dockerfile: images/loop1/Dockerfile\n- dockerfile: images/loop2/Dockerfile\n', /in a cycle: loop1 → loop2 → loop1/],
      ['- dockerfile: images/base/Dockerfile\n  image: ubuntu:24.04\n', /entry 1 \(images\/base\/Dockerfile\): Input 'image': import mode/],
    ];
    for (const [images, re] of cases) {
      const r = await run(s, ws, { images });
      assert.equal(r.code, 1, images);
      assert.match(r.stdout, re, images);
      assert.equal(r.outputs.status, 'failed');
    }
    assert.equal(s.state().requests.length, 0, 'no request reached the platform');
  });
});
