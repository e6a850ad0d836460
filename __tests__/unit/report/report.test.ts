import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { PostStateWriter, readPostState } from '../../../src/post-state.js';
import { GitHubReporter, MAX_ANNOTATIONS_PER_LEVEL } from '../../../src/report/reporter.js';
import { renderSummary } from '../../../src/report/summary.js';
import { resultOutputs } from '../../../src/report/outputs.js';
import type { CorePort, AnnotationProps } from '../../../src/report/core-port.js';
import type { BuildResult } from '../../../src/pipeline/result.js';
import { ActionError } from '../../../src/errors.js';
import { SecretRegistry } from '../../../src/secrets.js';

function recorder() {
  const calls: { fn: string; args: unknown[] }[] = [];
  const rec =
    (fn: string) =>
    (...args: unknown[]) =>
      void calls.push({ fn, args });
  const core: CorePort = {
    info: rec('info'),
    debug: rec('debug'),
    warning: rec('warning') as (m: string, p?: AnnotationProps) => void,
    error: rec('error') as CorePort['error'],
    notice: rec('notice') as CorePort['notice'],
    startGroup: rec('startGroup'),
    endGroup: rec('endGroup'),
    setOutput: rec('setOutput'),
    saveState: rec('saveState'),
    setFailed: rec('setFailed'),
    setSecret: rec('setSecret'),
  };
  return { core, calls };
}

test('phases become groups; stderr lines are marked; secrets redacted from every line', () => {
  const { core, calls } = recorder();
  const s = new SecretRegistry();
  s.add('sekret-token');
  const r = new GitHubReporter(core, {
    annotations: true,
    redact: (t) => s.redact(t),
    postState: new PostStateWriter((k, v) => core.saveState(k, v)),
  });
  r.phaseStart('build');
  r.buildLog('stdout', 'step 1 sekret-token');
  r.buildLog('stderr', 'oops');
  r.phaseEnd('build', 'ok', 1500);
  r.phaseStart('cleanup');
  r.close();
  assert.deepEqual(
    calls.filter((c) => c.fn !== 'info').map((c) => c.fn),
    ['startGroup', 'endGroup', 'startGroup', 'endGroup'],
  );
  assert.deepEqual(calls.find((c) => c.fn === 'startGroup')!.args, ['Build']);
  const infos = calls.filter((c) => c.fn === 'info').map((c) => c.args[0]);
  assert.deepEqual(infos, ['step 1 ***', '[stderr] oops', 'Build: ok in 1.5s']);
});

test('plan warnings become annotations with file and line, capped; the rest overflow to the summary', () => {
  const { core, calls } = recorder();
  const r = new GitHubReporter(core, {
    annotations: true,
    redact: (t) => t,
    postState: new PostStateWriter((k, v) => core.saveState(k, v)),
  });
  for (let i = 1; i <= MAX_ANNOTATIONS_PER_LEVEL + 3; i++)
    r.planWarning({ kind: 'ignored-instruction', line: i, message: `EXPOSE instruction ${i}` }, 'app/Dockerfile');
  const ann = calls.filter((c) => c.fn === 'warning');
  assert.equal(ann.length, MAX_ANNOTATIONS_PER_LEVEL);
  assert.deepEqual(ann[0].args[1], { title: 'Dockerfile: ignored-instruction', file: 'app/Dockerfile', startLine: 1 });
  assert.equal(r.overflow.length, 3);
  assert.equal(r.overflow[0], 'app/Dockerfile:11: EXPOSE instruction 11');
});

test('annotations: false keeps warnings out of annotations', () => {
  const { core, calls } = recorder();
  const r = new GitHubReporter(core, {
    annotations: false,
    redact: (t) => t,
    postState: new PostStateWriter((k, v) => core.saveState(k, v)),
  });
  r.planWarning({ kind: 'ignored-instruction', line: 2, message: 'x' });
  assert.equal(calls.filter((c) => c.fn === 'warning').length, 0);
  assert.equal(r.overflow.length, 1);
});

test('sandbox state is saved for the post step and cleared on deletion', () => {
  const { core, calls } = recorder();
  const r = new GitHubReporter(core, {
    annotations: true,
    redact: (t) => t,
    postState: new PostStateWriter((k, v) => core.saveState(k, v)),
  });
  r.sandboxCreated('sbx-1');
  r.sandboxDeleted('sbx-1');
  assert.deepEqual(
    calls.filter((c) => c.fn === 'saveState').map((c) => c.args),
    [
      ['builder-sandboxes', '["sbx-1"]'],
      ['builder-sandboxes', '[]'],
    ],
  );
});

test('post state: what the main step saves is what the post step reads; an unreadable list is skipped with a warning', () => {
  const saved = new Map<string, string>();
  const w = new PostStateWriter((k, v) => saved.set(k, v));
  w.addSandbox('sbx-1');
  w.addSandbox('sbx-2');
  w.addName('tl-build-1');
  w.removeSandbox('sbx-1');
  const warnings: string[] = [];
  assert.deepEqual(
    readPostState(
      (k) => saved.get(k) ?? '',
      (m) => void warnings.push(m),
    ),
    { sandboxIds: ['sbx-2'], sandboxNames: ['tl-build-1'] },
  );
  w.removeName('tl-build-1');
  assert.deepEqual(
    readPostState(
      (k) => saved.get(k) ?? '',
      (m) => void warnings.push(m),
    ).sandboxNames,
    [],
  );
  assert.equal(warnings.length, 0);
  saved.set('builder-sandboxes', '{not json');
  assert.deepEqual(
    readPostState(
      (k) => saved.get(k) ?? '',
      (m) => void warnings.push(m),
    ).sandboxIds,
    [],
  );
  assert.equal(warnings.length, 1);
});

const base: BuildResult = {
  status: 'registered',
  name: 'app',
  mode: 'dockerfile',
  rootfsFormat: 'cas-streaming',
  rootfsNodeKind: 'base',
  baseImage: 'python:3.12-slim',
  buildId: 'b1',
  builderSandboxId: 'sbx1',
  sandboxDeleted: true,
  snapshotId: 'snap1',
  template: { id: 'tpl1', name: 'app' },
  templateId: 'tpl1',
  templateName: 'app',
  manifestUri: 'cas://manifests/sha256:ab',
  imageDigest: 'sha256:ab',
  imageSizeBytes: 2048,
  context: {
    digest: 'sha256:cd',
    archiveDigest: 'sha256:ef',
    fileCount: 3,
    dirCount: 1,
    symlinkCount: 0,
    uncompressedBytes: 4096,
    compressedBytes: 300,
    largestFiles: [{ path: 'big.bin', bytes: 2000 }],
    skipped: [],
  },
  warnings: [{ kind: 'ignored-instruction', line: 4, message: 'EXPOSE instruction is applied during the build but has no effect' }],
  timings: [{ phase: 'plan', ms: 12, outcome: 'ok' }],
  admissionPolls: 3,
};

test('summary has identity, context, timings and warnings; outputs carry the result', () => {
  const md = renderSummary(base, ['extra warning'], (t) => t);
  for (const needle of [
    'registered',
    '`tpl1`',
    'cas://manifests/sha256:ab',
    'sha256:ab',
    '`b1`',
    '`sbx1` (deleted)',
    'cas-streaming',
    'sha256:cd',
    '3 files',
    '| Plan |',
    'line 4: EXPOSE',
    'extra warning',
    '2.00 KiB',
  ]) {
    assert.ok(md.includes(needle), `summary contains ${needle}`);
  }
  const out = resultOutputs(base);
  assert.equal(out.status, 'registered');
  assert.equal(out['template-id'], 'tpl1');
  assert.equal(out['manifest-uri'], 'cas://manifests/sha256:ab');
  assert.equal(out['image-size-bytes'], '2048');
  assert.equal(out['context-digest'], 'sha256:cd');
  assert.deepEqual(JSON.parse(out.template), { id: 'tpl1', name: 'app' });
});

test('failed summary shows the error with advice and ids, redacted', () => {
  const err = new ActionError('Command failed with token-12345', { kind: 'builder', advice: ['retry with a larger memory-mb'] }).annotate({
    buildId: 'b1',
    sandboxId: 'sbx1',
  });
  const s = new SecretRegistry();
  s.add('token-12345');
  err.phase = 'build';
  const md = renderSummary({ ...base, status: 'failed', error: err, template: undefined, templateId: undefined }, [], (t) => s.redact(t), [
    '#5 RUN make',
    '[stderr] make: *** Error 2',
  ]);
  assert.match(md, /\| Failed in \| Build \|/);
  assert.match(md, /Last 2 builder log lines[\s\S]*\[stderr\] make: \*\*\* Error 2/);
  assert.match(md, /❌/);
  assert.match(md, /Command failed with \*\*\*\nretry with a larger memory-mb \(builder sandbox: sbx1, build: b1\)/);
  assert.doesNotMatch(md, /token-12345/);
  assert.equal(resultOutputs({ ...base, status: 'cancelled' }).status, 'failed');
});
