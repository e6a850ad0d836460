import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeApiUrl, readConnection } from '../../src/connection.js';
import { parseDuration, type InputSource } from '../../src/input-readers.js';
import { readInputs } from '../../src/inputs.js';
import { ActionError } from '../../src/errors.js';

const ws = mkdtempSync(join(tmpdir(), 'inputs-'));
writeFileSync(join(ws, 'Dockerfile'), 'FROM ubuntu\n');
mkdirSync(join(ws, 'sub'));
writeFileSync(join(ws, 'sub', 'app.Dockerfile'), 'FROM ubuntu\n');

function src(inputs: Record<string, string>, env: Record<string, string> = {}): InputSource {
  return { input: (n) => inputs[n] ?? '', env, workspace: ws };
}

function inputErr(fn: () => unknown, input: string, re: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ActionError, 'ActionError');
    assert.equal(e.kind, 'input');
    assert.equal(e.input, input);
    assert.match(e.message, re);
    assert.match(e.message, new RegExp(`Input '${input}'`));
    return true;
  });
}

test('defaults: Dockerfile in the workspace, context = its directory, ext4, api url', () => {
  const i = readInputs(src({ 'api-key': 'key_abcdef' }));
  assert.deepEqual(i.source, { kind: 'dockerfile', dockerfile: join(ws, 'Dockerfile'), dockerfileInput: 'Dockerfile', context: ws });
  assert.equal(i.streaming, false);
  assert.equal(i.apiUrl, 'https://api.tensorlake.ai');
  assert.equal(i.wait, true);
  assert.equal(i.registryCredentials, true);
  assert.equal(i.admissionTimeoutMs, 30 * 60_000);
  assert.equal(i.pollIntervalMs, 3000);
  assert.equal(i.buildTimeoutMs, 60 * 60_000);
  assert.equal(i.sandboxTimeoutMs, 120_000);
  assert.deepEqual(i.auth, { kind: 'api-key', token: 'key_abcdef' });
  assert.deepEqual(i.secrets, ['key_abcdef']);
  assert.equal(i.namespace, 'default');
});

test('context defaults to the directory of a nested Dockerfile', () => {
  const i = readInputs(src({ dockerfile: 'sub/app.Dockerfile', 'api-key': 'key_abcdef' }));
  assert.equal(i.source.kind === 'dockerfile' && i.source.context, join(ws, 'sub'));
});

test('env fallbacks for credentials and api url; API key wins over PAT', () => {
  const i = readInputs(src({}, { TENSORLAKE_API_KEY: 'envkey_123', TENSORLAKE_PAT: 'pat_123', TENSORLAKE_API_URL: 'http://127.0.0.1:9/' }));
  assert.equal(i.auth?.kind, 'api-key');
  assert.equal(i.apiUrl, 'http://127.0.0.1:9');
  const p = readInputs(src({ pat: 'pat_12345', 'organization-id': 'o1' }, { TENSORLAKE_PROJECT_ID: 'p1' }));
  assert.deepEqual(p.auth, { kind: 'pat', token: 'pat_12345', organizationId: 'o1', projectId: 'p1' });
});

test('PAT without scope fails naming the missing input', () => {
  inputErr(
    () => readInputs(src({ pat: 'pat_12345', 'organization-id': 'o1' })),
    'project-id',
    /Organization ID and project ID are required/,
  );
  inputErr(() => readInputs(src({ pat: 'pat_12345' })), 'organization-id', /organization-id and project-id/);
});

test('no credentials at all', () => {
  inputErr(() => readInputs(src({})), 'api-key', /no credentials/);
});

test('import mode is exclusive with dockerfile/context', () => {
  const i = readInputs(src({ image: 'ghcr.io/org/app:1', 'api-key': 'key_abcdef' }));
  assert.deepEqual(i.source, { kind: 'import', image: 'ghcr.io/org/app:1' });
  inputErr(
    () => readInputs(src({ image: 'x', dockerfile: 'Dockerfile', 'api-key': 'key_abcdef' })),
    'image',
    /cannot be combined with dockerfile/,
  );
  inputErr(() => readInputs(src({ image: 'x', context: '.', 'api-key': 'key_abcdef' })), 'image', /cannot be combined with context/);
});

test('missing Dockerfile and context are named', () => {
  inputErr(
    () => readInputs(src({ dockerfile: 'nope/Dockerfile', 'api-key': 'key_abcdef' })),
    'dockerfile',
    /Dockerfile not found: nope\/Dockerfile/,
  );
  inputErr(() => readInputs(src({ context: 'missing-dir', 'api-key': 'key_abcdef' })), 'context', /Local build context not found/);
});

test('booleans, numbers and durations are validated', () => {
  inputErr(() => readInputs(src({ streaming: 'maybe', 'api-key': 'key_abcdef' })), 'streaming', /expected true or false, got 'maybe'/);
  inputErr(() => readInputs(src({ 'disk-mb': '10.5', 'api-key': 'key_abcdef' })), 'disk-mb', /whole number/);
  inputErr(() => readInputs(src({ 'memory-mb': '-1', 'api-key': 'key_abcdef' })), 'memory-mb', /whole number/);
  inputErr(() => readInputs(src({ cpus: 'two', 'api-key': 'key_abcdef' })), 'cpus', /a number/);
  inputErr(() => readInputs(src({ 'admission-timeout': '5 parsecs', 'api-key': 'key_abcdef' })), 'admission-timeout', /duration/);
  inputErr(() => readInputs(src({ 'poll-interval': '10ms', 'api-key': 'key_abcdef' })), 'poll-interval', /at least/);
  const i = readInputs(
    src({ cpus: '3.5', 'disk-mb': '30720', streaming: 'TRUE', wait: 'false', 'admission-timeout': '1h30m', 'api-key': 'key_abcdef' }),
  );
  assert.equal(i.cpus, 3.5);
  assert.equal(i.diskMb, 30720);
  assert.equal(i.streaming, true);
  assert.equal(i.wait, false);
  assert.equal(i.admissionTimeoutMs, 90 * 60_000);
});

test('parseDuration', () => {
  assert.equal(parseDuration('90'), 90_000);
  assert.equal(parseDuration('1.5m'), 90_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('1h30m10s'), 5_410_000);
  assert.equal(parseDuration('abc'), undefined);
  assert.equal(parseDuration('10x'), undefined);
});

test('api-url: normalised, http refused unless loopback, credentials refused', () => {
  assert.equal(normalizeApiUrl('https://api.tensorlake.ai:443/?x=1#f'), 'https://api.tensorlake.ai');
  inputErr(
    () => readConnection(src({ 'api-key': 'key_abcdef', 'api-url': 'http://api.example.com' })),
    'api-url',
    /plain http:\/\/ is refused/,
  );
  inputErr(() => readConnection(src({ 'api-key': 'key_abcdef', 'api-url': 'not a url' })), 'api-url', /not a valid URL/);
  inputErr(() => readConnection(src({ 'api-key': 'key_abcdef', 'api-url': 'ftp://x' })), 'api-url', /unsupported scheme/);
  inputErr(() => readConnection(src({ 'api-key': 'key_abcdef', 'api-url': 'https://u:p@api.x' })), 'api-url', /credentials/);
  for (const ok of ['http://localhost:8080', 'http://127.0.0.5:1', 'http://[::1]:9']) {
    assert.doesNotThrow(() => readConnection(src({ 'api-key': 'key_abcdef', 'api-url': ok })));
  }
});

test('a secret with a trailing newline is refused without echoing it', () => {
  assert.throws(
    () => readConnection(src({ 'api-key': 'key_abc def' })),
    (e: unknown) => {
      assert.ok(e instanceof ActionError, 'ActionError');
      assert.doesNotMatch(e.message, /key_abc/);
      return true;
    },
  );
});

test('normalizeApiUrl: https anywhere, http only on loopback, clear input error otherwise', () => {
  for (const ok of ['https://api.tensorlake.ai', 'http://localhost:8900', 'http://127.0.0.1:1', 'http://127.1.2.3', 'http://[::1]:80/']) {
    assert.doesNotThrow(() => normalizeApiUrl(ok), ok);
  }
  for (const bad of ['http://api.tensorlake.ai', 'http://10.0.0.1', 'http://127.0.0.1.evil.com', 'ftp://x', 'not a url']) {
    assert.throws(
      () => normalizeApiUrl(bad),
      (e: unknown) => e instanceof ActionError && e.kind === 'input' && e.input === 'api-url' && /api-url/.test(e.message),
      bad,
    );
  }
});

const forkRun = (eventName = 'pull_request') => ({
  eventName,
  repository: 'o/r',
  pullRequest: { number: 1, headSha: 'a'.repeat(40), headRepo: 'x/r', baseRepo: 'o/r', fromFork: true },
});

test('dry-run auto: plan-only only for a fork pull_request without credentials; otherwise the missing-credentials error stays', () => {
  const fork = readInputs({ ...src({}), run: forkRun() });
  assert.deepEqual(fork.dryRun, { reason: 'fork-without-credentials' });
  assert.equal(fork.auth, undefined);
  assert.deepEqual(fork.secrets, []);
  // with credentials the fork builds for real
  assert.equal(readInputs({ ...src({ 'api-key': 'key_abcdef' }), run: forkRun() }).dryRun, undefined);
  // pull_request_target has the secrets: their absence is an error, as on a same-repo PR
  inputErr(() => readInputs({ ...src({}), run: forkRun('pull_request_target') }), 'api-key', /no credentials/);
  inputErr(
    () => readInputs({ ...src({}), run: { ...forkRun(), pullRequest: { ...forkRun().pullRequest, fromFork: false } } }),
    'api-key',
    /no credentials/,
  );
  inputErr(() => readInputs({ ...src({ 'dry-run': 'false' }), run: forkRun() }), 'api-key', /no credentials/);
});

test('dry-run: true plans only, with or without credentials; other values are refused naming the input', () => {
  assert.deepEqual(readInputs(src({ 'dry-run': 'true' })).dryRun, { reason: 'input' });
  const withKey = readInputs(src({ 'dry-run': 'TRUE', 'api-key': 'key_abcdef' }));
  assert.deepEqual(withKey.dryRun, { reason: 'input' });
  assert.deepEqual(withKey.secrets, ['key_abcdef'], 'a key given is still masked');
  inputErr(() => readInputs(src({ 'dry-run': 'maybe', 'api-key': 'key_abcdef' })), 'dry-run', /expected auto, true or false, got 'maybe'/);
  // a dry run still validates what a real build would refuse
  inputErr(() => readInputs(src({ 'dry-run': 'true', 'api-url': 'http://api.example.com' })), 'api-url', /plain http/);
});

test('PR feature inputs: defaults off, the token is a secret, status-context validated', () => {
  const d = readInputs(src({ 'api-key': 'key_abcdef' }));
  assert.deepEqual(d.feedback, { githubToken: '', commitStatus: false, statusContext: '', prComment: false });
  const on = readInputs(
    src({
      'api-key': 'key_abcdef',
      'github-token': 'ghs_abcdef123',
      'commit-status': 'true',
      'pr-comment': 'yes',
      'status-context': 'ci/{image}',
    }),
  );
  assert.deepEqual(on.feedback, { githubToken: 'ghs_abcdef123', commitStatus: true, statusContext: 'ci/{image}', prComment: true });
  assert.ok(on.secrets.includes('ghs_abcdef123'));
  inputErr(() => readInputs(src({ 'api-key': 'key_abcdef', 'commit-status': 'sure' })), 'commit-status', /expected true or false/);
  inputErr(() => readInputs(src({ 'api-key': 'key_abcdef', 'status-context': 'x'.repeat(256) })), 'status-context', /255/);
  inputErr(
    () => readInputs(src({ 'api-key': 'key_abcdef', 'pr-comment': 'true', 'github-token': 'ghs_abc def' })),
    'github-token',
    /whitespace/,
  );
});
