import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { builderSandboxName } from '../../../src/pipeline/sandbox.js';
import { abortableSleep } from '../../../src/signals.js';
import { registerUrlSecrets } from '../../../src/platform/url-secrets.js';
import { toLocalImage, baseIsEligibleForLookup, STREAMING_BASE_ONLY_MESSAGE } from '../../../src/pipeline/references.js';
import { SecretRegistry } from '../../../src/secrets.js';
import { ActionError } from '../../../src/errors.js';
import type { BuildPlan } from '../../../src/dockerfile/plan.js';

test('builder sandbox names are valid and derived from the build id', () => {
  assert.equal(builderSandboxName('sandbox_template_build_ABC123'), 'sbx-image-sandbox-template-build-abc123');
  const long = builderSandboxName('b'.repeat(200));
  assert.ok(long.length <= 63 && !long.endsWith('-'), long);
});

test('signed URLs (with a query string) anywhere in an answer become secrets; plain URIs do not', () => {
  const s = new SecretRegistry();
  registerUrlSecrets(
    {
      upload: { url: 'https://bucket.s3/x?X-Amz-Signature=abcdef', partUrls: ['https://b/p1?sig=1111', 'https://b/p2?sig=2222'] },
      snapshotUri: 's3://bucket/x',
      n: 3,
    },
    s,
  );
  assert.equal(
    s.redact('a https://bucket.s3/x?X-Amz-Signature=abcdef b https://b/p2?sig=2222 c s3://bucket/x'),
    'a *** b *** c s3://bucket/x',
  );
});

test('abortableSleep rejects promptly with a cancelled error', async () => {
  const c = new AbortController();
  const t0 = Date.now();
  const p = abortableSleep(10_000, c.signal);
  setTimeout(() => c.abort(), 20);
  await assert.rejects(p, (e: unknown) => e instanceof ActionError && e.kind === 'cancelled');
  assert.ok(Date.now() - t0 < 1000, 'prompt');
});

test('template validation of §3', () => {
  assert.deepEqual(toLocalImage('base:1', { id: 't1', name: 'base', snapshotId: 's1' }), {
    templateId: 't1',
    name: 'base',
    reference: 'base:1',
    snapshotId: 's1',
    public: false,
  });
  assert.throws(() => toLocalImage('r', { name: 'n', snapshotId: 's' }), /platform returned a template lookup for 'r' without an id/);
  assert.throws(() => toLocalImage('r', { id: 'i', snapshotId: 's' }), /without a name/);
  assert.throws(() => toLocalImage('r', { id: 'i', name: 'n' }), /without a snapshot id/);
  assert.throws(
    () => toLocalImage('r', { id: 'i', name: 'n', snapshotId: 's', rootfsNodeKind: 'diff' }),
    /only base templates are supported, got rootfsNodeKind='diff'/,
  );
  assert.throws(() => toLocalImage('r', { id: 'i', name: 'n', snapshotId: 's', snapshotFormatVersion: 'v9' }), /uses snapshot format 'v9'/);
  assert.match(STREAMING_BASE_ONLY_MESSAGE, /^--streaming builds support only base images/);
});

test('§2.6 base eligibility', () => {
  const p = (over: Partial<BuildPlan>): BuildPlan => ({
    mode: 'dockerfile',
    dockerfileText: '',
    baseImage: 'x',
    baseImageIsInternalStage: false,
    additionalRefs: [],
    lookupRefs: [],
    name: 'n',
    warnings: [],
    stats: { instructions: 1, stages: 1 },
    ...over,
  });
  assert.equal(baseIsEligibleForLookup(p({})), true);
  assert.equal(baseIsEligibleForLookup(p({ baseImage: 'scratch' })), true);
  assert.equal(baseIsEligibleForLookup(p({ baseImage: 'py:${T}' })), false);
  assert.equal(baseIsEligibleForLookup(p({ baseImage: 'py@sha256:1' })), false);
  assert.equal(baseIsEligibleForLookup(p({ baseImageIsInternalStage: true })), false);
  assert.equal(baseIsEligibleForLookup(p({ mode: 'import' })), false);
});
