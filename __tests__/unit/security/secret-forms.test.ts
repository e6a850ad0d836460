/**
 * Secrets in forms a plain substring search does not see: JSON-escaped, base64-encoded, split by a
 * newline (the API key echoed back); signed URLs embedded in longer strings, Go-escaped, in big
 * bodies. Each case is a form a platform answer or a builder log line can really take.
 */
import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { SecretRegistry } from '../../../src/secrets.js';
import { registerBodySecrets, registerTextSecrets } from '../../../src/platform/url-secrets.js';
import { statusError } from '../../../src/platform/http-errors.js';
import { readConnection } from '../../../src/connection.js';
import { ActionError } from '../../../src/errors.js';

const KEY = 'tl_apikey_Q7/x"b+Zr9Kd2';
const SIG = '9f8e7d6c5b4a39281706';
const SIGNED = `https://bucket.s3.amazonaws.com/k/part-1.pack?X-Amz-Credential=AKIAX&X-Amz-Signature=${SIG}`;

function registry(): { s: SecretRegistry; masked: string[] } {
  const masked: string[] = [];
  const s = new SecretRegistry((v) => masked.push(v));
  s.addCredential(KEY);
  return { s, masked };
}

test('the API key echoed back JSON-escaped (\\/ \\" \\uXXXX) is redacted', () => {
  const { s } = registry();
  const slash = JSON.stringify({ error: `bad key ${KEY}` }).replace(/\//g, '\\/');
  assert.ok(slash.includes('tl_apikey_Q7\\/x\\"b+Zr9Kd2'), 'the fixture is escaped');
  const allUnicode = [...KEY].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
  const mixed = `tl_api\\u006bey_Q7\\/x\\u0022b+Zr9Kd2`;
  for (const text of [slash, `{"k":"${allUnicode}"}`, `{"k":"${mixed}"}`]) {
    const out = s.redact(text);
    assert.ok(!out.includes('Zr9Kd2') && !out.includes('\\u0032'), `redacted: ${out}`);
    assert.match(out, /\*\*\*/);
  }
});

test('the API key base64-encoded (at any byte offset, as in Basic auth) is masked and redacted', () => {
  const { s, masked } = registry();
  for (const prefix of ['', 'u:', 'user:', 'x']) {
    const b64 = Buffer.from(`${prefix}${KEY}`).toString('base64');
    const out = s.redact(`Authorization: Basic ${b64}`);
    assert.ok(!out.includes(b64.slice(8, 24)), `base64 after '${prefix}' redacted: ${out}`);
    // the runner gets a mask that covers it too
    assert.ok(
      masked.some((m) => m.length >= 8 && b64.includes(m)),
      `a mask for the runner covers base64 after '${prefix}'`,
    );
  }
  // and no ordinary text is mangled
  assert.equal(s.redact('Authorization: Basic dXNlcjpwYXNz'), 'Authorization: Basic dXNlcjpwYXNz');
});

test('the API key split by a newline (raw or escaped) is redacted', () => {
  const { s } = registry();
  for (const text of [`key: ${KEY.slice(0, 9)}\n${KEY.slice(9)} end`, `{"k":"${KEY.slice(0, 9)}\\n${KEY.slice(9).replace('"', '\\"')}"}`]) {
    const out = s.redact(text);
    assert.ok(!out.includes('Zr9Kd2'), out);
  }
  // ordinary multi-line text is left alone
  assert.equal(s.redact('line one\nline two\\n three'), 'line one\nline two\\n three');
});

test('api-key and pat under 4 characters are refused as invalid input, naming the input', () => {
  for (const [input, env] of [
    ['api-key', { TENSORLAKE_API_KEY: 'abc' }],
    ['pat', { TENSORLAKE_PAT: 'x', TENSORLAKE_ORGANIZATION_ID: 'o', TENSORLAKE_PROJECT_ID: 'p' }],
  ] as const) {
    assert.throws(
      () => readConnection({ input: () => '', env, workspace: '/tmp' }),
      (e: unknown) =>
        e instanceof ActionError && e.kind === 'input' && e.input === input && new RegExp(`'${input}'.*too short`).test(e.message),
    );
  }
});

test('a signed URL quoted inside a JSON error message is registered and never shows in the error', () => {
  const s = new SecretRegistry();
  const body = Buffer.from(JSON.stringify({ error: `upload to ${SIGNED} failed: 403 from S3` }));
  registerBodySecrets(body, s);
  assert.ok(s.has(SIGNED), 'the URL is a secret');
  const msg = statusError({ status: 502, body }, 'sign blob', (t) => s.redact(t)).message;
  assert.ok(!msg.includes(SIG), msg);
});

test('a signed URL inside a longer string field (a template description) is registered', () => {
  const s = new SecretRegistry();
  registerBodySecrets(Buffer.from(JSON.stringify({ id: 't', description: `built from ${SIGNED}, see logs` })), s);
  assert.ok(s.has(SIGNED));
  assert.equal(s.redact(`{"description":"built from ${SIGNED}, see logs"}`).includes(SIG), false);
});

test('Go-style escaping (\\u0026, \\/) of a signed URL: registered, and the raw escaped text is redacted', () => {
  const s = new SecretRegistry();
  const goJson = `{"url":"${SIGNED.replace(/&/g, '\\u0026').replace(/\//g, '\\/')}"}`;
  registerBodySecrets(Buffer.from(goJson), s);
  assert.ok(s.has(SIGNED));
  const msg = statusError({ status: 500, body: Buffer.from(goJson) }, 'prepare', (t) => s.redact(t)).message;
  assert.ok(!msg.includes(SIG), msg);
  // the same in a body that is not JSON at all (escaped text inside an HTML page)
  const t = new SecretRegistry();
  registerBodySecrets(Buffer.from(`<html>${goJson}</html>`), t);
  assert.ok(t.has(SIGNED));
});

test('a body over 4 MiB is still scanned for signed URLs', () => {
  const s = new SecretRegistry();
  const big = Buffer.from(JSON.stringify({ pad: 'x'.repeat(5 * 1024 * 1024), url: SIGNED }));
  registerBodySecrets(big, s);
  assert.ok(s.has(SIGNED));
});

test('a builder log line: signed URLs are registered; ordinary URLs and text are not', () => {
  const s = new SecretRegistry();
  registerTextSecrets(`#7 0.312 curl -fsSL "${SIGNED}" -o part.pack`, s);
  assert.ok(s.has(SIGNED));
  const n = s.values().length;
  registerTextSecrets('#8 0.100 pip install -i https://pypi.org/simple?project=demo requests', s);
  registerTextSecrets('#9 DONE 0.4s', s);
  assert.equal(s.values().length, n, 'nothing else registered');
});
