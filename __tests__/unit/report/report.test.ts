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

test('phases become groups; builder lines are shown as written (no stream mark); secrets redacted from every line', () => {
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
  assert.deepEqual(infos, ['step 1 ***', 'oops', 'Build: ok in 1.5s']);
  // the failure tail marks stderr lines, since it mixes both streams
  assert.deepEqual(r.logTail, ['step 1 ***', '[stderr] oops']);
});

test('failure tail: lines from one stream only (BuildKit writes all to stderr) carry no mark', () => {
  const { core } = recorder();
  const r = new GitHubReporter(core, {
    annotations: true,
    redact: (t) => t,
    postState: new PostStateWriter((k, v) => core.saveState(k, v)),
  });
  for (let i = 0; i < 40; i++) r.buildLog('stderr', `#${i} DONE 0.1s`);
  assert.equal(r.logTail.length, 30);
  assert.equal(r.logTail[0], '#10 DONE 0.1s');
  assert.ok(r.logTail.every((l) => !l.startsWith('[stderr]')));
});

test('progress: at most one line per transfer every few seconds, plus the final one', () => {
  const { core, calls } = recorder();
  let t = 0;
  const r = new GitHubReporter(core, {
    annotations: true,
    redact: (x) => x,
    now: () => t,
    postState: new PostStateWriter((k, v) => core.saveState(k, v)),
  });
  const progressLines = (): string[] => calls.filter((c) => c.fn === 'info').map((c) => String(c.args[0]));
  // a tiny context: many events within milliseconds → only the final line of each transfer
  for (let i = 0; i <= 8; i++)
    r.progress({ kind: 'archive', bytes: Math.min(750, i * 100), totalBytes: 750, percent: Math.min(100, i * 13), rate: 1 });
  for (let i = 0; i <= 10; i++) r.progress({ kind: 'upload', bytes: i * 30, totalBytes: 300, percent: i * 10, rate: 1 });
  assert.deepEqual(
    progressLines().map((l) => l.split(':')[0] + ':' + l.split(':')[1].split('%')[0]),
    ['Creating build context archive: 100', 'Uploading build context archive: 100'],
  );
  // a 300 MiB transfer over 20 s, one event per percent → one line per 5 s and the final one
  calls.length = 0;
  const total = 300 * 1024 * 1024;
  for (let p = 0; p <= 100; p++) {
    t = 1000 + p * 200;
    r.progress({ kind: 'upload', bytes: Math.round((total * p) / 100), totalBytes: total, percent: p, rate: 1 });
  }
  const lines = progressLines();
  assert.ok(lines.length >= 4 && lines.length <= 5, lines.join('\n'));
  assert.match(lines.at(-1)!, /: 100% \(300 MiB \/ 300 MiB/);
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
  assert.deepEqual(ann[0].args[1], { title: 'Dockerfile: instruction without effect in a sandbox', file: 'app/Dockerfile', startLine: 1 });
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
  w.addName('tl-build-1', 1_700_000_000_000);
  w.removeSandbox('sbx-1');
  const warnings: string[] = [];
  assert.deepEqual(
    readPostState(
      (k) => saved.get(k) ?? '',
      (m) => void warnings.push(m),
    ),
    // namedAt: when the create was sent, where the post step's sweep window starts
    { sandboxIds: ['sbx-2'], sandboxNames: ['tl-build-1'], namedAt: { 'tl-build-1': 1_700_000_000_000 } },
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
  assert.match(md, /<p>\nCommand failed with \*\*\*<br>\nretry with a larger memory-mb \(builder sandbox: sbx1, build: b1\)<br>\n<\/p>/);
  assert.doesNotMatch(md, /token-12345/);
  assert.equal(resultOutputs({ ...base, status: 'cancelled' }).status, 'failed');
});

test('summary table: the first fact is the header row (no empty header); ext4 says Snapshot URI', () => {
  const md = renderSummary(base, [], (t) => t);
  const table = md.split('\n').filter((l) => l.startsWith('|'));
  assert.equal(table[0], '| Result | registered |');
  assert.equal(table[1], '|---|---|');
  assert.ok(!md.includes('| | |'), 'no empty header row');
  assert.ok(md.includes('| Manifest URI | `cas://manifests/sha256:ab` |'));
  const ext4 = renderSummary({ ...base, rootfsFormat: 'ext4', manifestUri: 's3://snapshots/snap1' }, [], (t) => t);
  assert.ok(ext4.includes('| Snapshot URI | `s3://snapshots/snap1` |'), ext4);
  assert.ok(!ext4.includes('Manifest URI'));
});

test('summary: a long error is a wrapping paragraph, not one unbroken code line', () => {
  const long = `failed to upload the context: ${'x'.repeat(400)} and more words that a person must read`;
  const md = renderSummary({ ...base, status: 'failed', error: new ActionError(long, { kind: 'platform' }) }, [], (t) => t);
  const section = md.slice(md.indexOf('### Error'));
  assert.ok(!/^```/m.test(section.split('### Timings')[0]), 'the error is not a code block');
  assert.match(section, /<p>\nfailed to upload the context: x{400} and more words that a person must read<br>\n<\/p>/);
});

test('summary: the context measured while planning, with its largest entries in words', () => {
  const md = renderSummary(
    {
      ...base,
      contextFootprint: {
        totalBytes: 3 * 1024 * 1024,
        fileCount: 12,
        largestFiles: [{ path: 'data/big.bin', bytes: 2 * 1024 * 1024 }],
        largestDirectories: [{ path: 'data/', bytes: 2.5 * 1024 * 1024 }],
      },
    },
    [],
    (t) => t,
  );
  assert.ok(md.includes('| Context size | 3.00 MiB in 12 files; largest directories: data/ (2.50 MiB) |'), md);
});
