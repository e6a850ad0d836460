import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { dependencyLayers } from '../../../src/images/graph.js';
import { SharedConsole } from '../../../src/images/console.js';
import { didYouMean, parseImagesYaml, readImageEntries, ENTRY_KEYS } from '../../../src/images/entries.js';
import { buildDigest, recordedDigest, withBuildRecord, BUILD_RECORD_PREFIX } from '../../../src/images/build-record.js';
import type { CorePort } from '../../../src/report/core-port.js';
import { PostStateWriter } from '../../../src/post-state.js';
import { GitHubReporter } from '../../../src/report/reporter.js';
import { makeProject } from '../../../tools/action-runner.js';
import { buildResult, nullEvents } from '../fakes.js';

test('layers follow dependencies; a cycle is named along its path', () => {
  const r = dependencyLayers([
    { name: 'app', deps: ['base'] },
    { name: 'base', deps: [] },
    { name: 'gpu', deps: ['app', 'base'] },
  ]);
  assert.ok('layer' in r);
  assert.deepEqual(Object.fromEntries(r.layer), { app: 1, base: 0, gpu: 2 });
  const c = dependencyLayers([
    { name: 'a', deps: ['b'] },
    { name: 'b', deps: ['c'] },
    { name: 'c', deps: ['a'] },
  ]);
  assert.deepEqual(c, { cycle: ['a', 'b', 'c', 'a'] });
});

function recorder() {
  const out: string[] = [];
  const core: CorePort = {
    info: (m) => out.push(m),
    debug: (m) => out.push(`::debug::${m}`),
    warning: (m) => out.push(`::warning::${m}`),
    error: (m) => out.push(`::error::${m}`),
    notice: (m) => out.push(`::notice::${m}`),
    startGroup: (n) => out.push(`::group::${n}`),
    endGroup: () => out.push('::endgroup::'),
    setOutput: () => {},
    saveState: (n, v) => out.push(`state ${n}=${v}`),
    setFailed: () => {},
    setSecret: () => {},
  };
  return { core, out };
}

test('shared console: a group holds only its owner’s lines; the others are written whole, in order, after it', () => {
  const { core, out } = recorder();
  const con = new SharedConsole(core);
  const a = con.port();
  const b = con.port();
  a.startGroup('[a] Build');
  a.info('[a] 1');
  b.startGroup('[b] Build');
  b.info('[b] 1');
  b.endGroup();
  b.info('[b] loose');
  a.info('[a] 2');
  b.startGroup('[b] Cleanup');
  b.info('[b] 2');
  a.endGroup();
  // b's finished group and its open one follow a's; b now owns the log
  a.startGroup('[a] Cleanup');
  a.info('[a] 3');
  b.endGroup();
  a.endGroup();
  con.flush();
  assert.deepEqual(out, [
    '::group::[a] Build',
    '[a] 1',
    '[a] 2',
    '::endgroup::',
    '::group::[b] Build',
    '[b] 1',
    '::endgroup::',
    '[b] loose',
    '::group::[b] Cleanup',
    '[b] 2',
    '::endgroup::',
    '::group::[a] Cleanup',
    '[a] 3',
    '::endgroup::',
  ]);
});

test('two images of one step share the post state: their saved sandbox lists are merged, not overwritten', () => {
  const { core, out } = recorder();
  const con = new SharedConsole(core);
  const postState = new PostStateWriter((k, v) => core.saveState(k, v));
  const a = new GitHubReporter(con.port(), { annotations: false, redact: (t) => t, postState, label: 'a' });
  const b = new GitHubReporter(con.port(), { annotations: false, redact: (t) => t, postState, label: 'b' });
  a.sandboxCreated('s1');
  b.sandboxCreated('s2');
  a.sandboxDeleted('s1');
  assert.deepEqual(
    out.filter((l) => l.startsWith('state ')),
    ['state builder-sandboxes=["s1"]', 'state builder-sandboxes=["s1","s2"]', 'state builder-sandboxes=["s2"]'],
  );
});

test('images YAML: scalars only, known keys only, with a did-you-mean', async () => {
  assert.deepEqual(await parseImagesYaml('- dockerfile: a/Dockerfile\n  disk-mb: 2048\n  streaming: true\n'), [
    { dockerfile: 'a/Dockerfile', 'disk-mb': '2048', streaming: 'true' },
  ]);
  await assert.rejects(parseImagesYaml('dockerfile: a'), /Input 'images': expected a YAML list/);
  await assert.rejects(parseImagesYaml('[]'), /the list is empty/);
  await assert.rejects(parseImagesYaml('- a/Dockerfile'), /entry 1: expected a mapping of inputs/);
  await assert.rejects(parseImagesYaml('- dockerfile: [a]'), /entry 1: 'dockerfile' must be a single value/);
  await assert.rejects(parseImagesYaml('- dockerfile: a\n  dockerfile: b\n'), /not valid YAML/);
  await assert.rejects(
    parseImagesYaml('- dockerfile: a\n  memory: 1\n'),
    /entry 1 \(a\): unknown key 'memory' \(did you mean 'memory-mb'\?\)/,
  );
  await assert.rejects(parseImagesYaml('- dockerfile: a\n  api-key: x\n'), /'api-key' is a step input/);
  assert.equal(didYouMean('builder_disk_mb', ENTRY_KEYS), 'builder-disk-mb');
  assert.equal(didYouMean('colour', ENTRY_KEYS), undefined);
});

test('entries: inherit the step, name the entry in errors, get dependencies and layers', async () => {
  const ws = await makeProject({
    'base/Dockerfile': 'FROM python:3.12-slim\n',
    'app/Dockerfile': 'FROM base\nCOPY --from=tools /x /x\n',
    'tools/Dockerfile': 'FROM alpine\n',
    'bad/Dockerfile': 'RUN echo no from\n',
  });
  const step: Record<string, string> = { 'api-key': 'tl_key_123456', 'disk-mb': '4096', 'api-url': 'http://127.0.0.1:1' };
  const src = (extra: Record<string, string> = {}) => ({ input: (n: string) => ({ ...step, ...extra })[n] ?? '', env: {}, workspace: ws });
  const { entries } = await readImageEntries(
    src(),
    '- dockerfile: app/Dockerfile\n  disk-mb: 1024\n- dockerfile: base/Dockerfile\n- dockerfile: tools/Dockerfile\n',
  );
  assert.deepEqual(
    entries.map((e) => [e.name, e.deps, e.layer, e.inputs.diskMb]),
    [
      ['app', ['base', 'tools'], 1, 1024],
      ['base', [], 0, 4096],
      ['tools', [], 0, 4096],
    ],
  );
  await assert.rejects(
    readImageEntries(src(), '- dockerfile: bad/Dockerfile\n'),
    /entry 1 \(bad\/Dockerfile\): Dockerfile bad\/Dockerfile: .*FROM/,
  );
  await assert.rejects(
    readImageEntries(src({ dockerfile: 'base/Dockerfile' }), '- dockerfile: app/Dockerfile\n'),
    /cannot be combined with the step input 'dockerfile'/,
  );
  await assert.rejects(
    readImageEntries(src(), '- dockerfile: base/Dockerfile\n  cpus: lots\n'),
    /entry 1 \(base\/Dockerfile\): Input 'cpus': expected a number/,
  );
  await assert.rejects(readImageEntries(src(), '- name: x\n'), /entry 1 \(x\): set dockerfile .* or image/);
  await assert.rejects(
    readImageEntries(src(), '- dockerfile: app/Dockerfile\n  streaming: true\n- dockerfile: base/Dockerfile\n'),
    /entry 1 \(app\/Dockerfile\): streaming builds support only base images, but this Dockerfile builds on 'base'/,
  );
});

test('build record: appended as a comment, read back from the template, replaced not repeated', () => {
  const d1 = `sha256:${'a'.repeat(64)}`;
  const d2 = `sha256:${'b'.repeat(64)}`;
  const text = withBuildRecord('FROM x\nRUN y', d1);
  assert.equal(text, `FROM x\nRUN y\n${BUILD_RECORD_PREFIX}${d1}\n`);
  assert.equal(withBuildRecord(text, d2), `FROM x\nRUN y\n${BUILD_RECORD_PREFIX}${d2}\n`);
  assert.equal(recordedDigest({ dockerfile: text }), d1);
  assert.equal(recordedDigest({ dockerfile: 'FROM x\n' }), undefined);
  assert.equal(recordedDigest({}), undefined);
  assert.equal(recordedDigest({ dockerfile: `FROM x\n# sbx-image-action build-digest: sha256:short\n` }), undefined);
});

test('build digest: changes with each thing that determines the image, not with the record itself', () => {
  const plan = {
    mode: 'dockerfile' as const,
    dockerfileText: 'FROM base\n',
    baseImage: 'base',
    baseImageIsInternalStage: false,
    additionalRefs: [],
    lookupRefs: ['base'],
    name: 'app',
    warnings: [],
    stats: { instructions: 1, stages: 1 },
  };
  const inputs = { streaming: false, public: false, dockerCompat: false, diskMb: undefined } as never;
  const base = { plan, inputs, contextDigest: 'sha256:c1', parents: { base: { kind: 'in-step' as const, digest: 'sha256:p1' } } };
  const d = buildDigest(base);
  assert.match(d, /^sha256:[0-9a-f]{64}$/);
  assert.equal(buildDigest({ ...base, plan: { ...plan, dockerfileText: withBuildRecord(plan.dockerfileText, d) } }), d);
  const variants = [
    { ...base, contextDigest: 'sha256:c2' },
    { ...base, plan: { ...plan, dockerfileText: 'FROM base\nRUN x\n' } },
    { ...base, parents: { base: { kind: 'in-step' as const, digest: 'sha256:p2' } } },
    { ...base, parents: { base: { kind: 'registry' as const } } },
    { ...base, inputs: { streaming: true, public: false, dockerCompat: false } as never },
    { ...base, inputs: { streaming: false, public: false, dockerCompat: false, diskMb: 2048 } as never },
  ];
  for (const v of variants) assert.notEqual(buildDigest(v), d);
  // a parent known by its recorded digest is the same parent as one built in the step with that digest
  assert.equal(buildDigest({ ...base, parents: { base: { kind: 'template', digest: 'sha256:p1', templateId: 't', snapshotId: 's' } } }), d);
});

test('scheduler (a fake build plane): dependency order, the max-parallel bound, dependents of a failure skipped, fail-fast cancels', async () => {
  const { runImages } = await import('../../../src/images/orchestrator.js');
  const { SecretRegistry } = await import('../../../src/secrets.js');
  const ws = await makeProject({
    'base/Dockerfile': 'FROM python:3.12-slim\n',
    'app/Dockerfile': 'FROM base\n',
    'x/Dockerfile': 'FROM alpine\n',
    'y/Dockerfile': 'FROM alpine\n',
  });
  const src = { input: (n: string) => ({ 'api-key': 'tl_key_123456' })[n as 'api-key'] ?? '', env: {}, workspace: ws };
  const { entries } = await readImageEntries(
    src,
    '- dockerfile: app/Dockerfile\n- dockerfile: base/Dockerfile\n- dockerfile: x/Dockerfile\n- dockerfile: y/Dockerfile\n',
  );
  const go = async (opts: { failing?: string; failFast?: boolean; maxParallel: number }) => {
    let alive = 0;
    let most = 0;
    const order: string[] = [];
    const outcomes = await runImages(
      { entries, maxParallel: opts.maxParallel, failFast: opts.failFast ?? false, skipUnchanged: false, planOnly: false },
      {
        eventsFor: () => nullEvents,
        note: () => {},
        secrets: new SecretRegistry(),
        log: { debug() {}, info() {}, warning() {} },
        env: {},
        build: async (req, deps) => {
          alive++;
          most = Math.max(most, alive);
          order.push(`start ${req.name}`);
          const long = req.name === opts.failing ? 20 : 80;
          const cancelled = await new Promise<boolean>((resolve) => {
            const t = setTimeout(() => resolve(false), long);
            deps.signal?.addEventListener('abort', () => (clearTimeout(t), resolve(true)), { once: true });
          });
          alive--;
          order.push(`end ${req.name}`);
          const status = cancelled ? 'cancelled' : req.name === opts.failing ? 'failed' : 'registered';
          return buildResult({ status, name: req.name, templateId: `tpl-${req.name}` }) as never;
        },
      },
    );
    return { outcomes: Object.fromEntries(outcomes.map((o) => [o.entry.name, o])), most, order };
  };
  const ok = await go({ maxParallel: 2 });
  assert.equal(ok.most, 2);
  assert.ok(ok.order.indexOf('end base') < ok.order.indexOf('start app'), ok.order.join(', '));
  for (const o of Object.values(ok.outcomes)) assert.equal(o.status, 'registered');

  const failed = await go({ maxParallel: 4, failing: 'base' });
  assert.equal(failed.outcomes.base.status, 'failed');
  assert.equal(failed.outcomes.app.status, 'skipped');
  assert.equal(failed.outcomes.app.reason, "not built: it builds on 'base', which failed");
  assert.equal(failed.outcomes.x.status, 'registered');
  assert.ok(!failed.order.includes('start app'));

  const fast = await go({ maxParallel: 4, failing: 'base', failFast: true });
  assert.equal(fast.outcomes.x.status, 'cancelled');
  assert.equal(fast.outcomes.x.reason, "cancelled by fail-fast: 'base' failed");
  assert.equal(fast.outcomes.app.status, 'skipped');
});
