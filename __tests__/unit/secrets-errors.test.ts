import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { SecretRegistry } from '../../src/secrets.js';
import { ActionError, formatError, toActionError } from '../../src/errors.js';

test('secrets are masked once, redacted longest first, URL-encoded form too', () => {
  const masked: string[] = [];
  const s = new SecretRegistry((v) => masked.push(v));
  s.add('abc'); // too short to redact safely
  s.add('tok/en+1234');
  s.add('tok/en+1234');
  s.add('tok/en+1234-longer');
  assert.deepEqual(masked, [
    'tok/en+1234',
    encodeURIComponent('tok/en+1234'),
    'tok/en+1234-longer',
    encodeURIComponent('tok/en+1234-longer'),
  ]);
  assert.equal(s.redact('a tok/en+1234-longer b tok%2Fen%2B1234 abc'), 'a *** b *** abc');
});

test('formatError: message, advice, ids; redacted', () => {
  const e = new ActionError('rootfs builder exited with status 1', { kind: 'builder', advice: ['retry with more memory'] });
  e.annotate({ sandboxId: 'rtmmkcw33uvsbep6hn03u', buildId: 'sandbox_template_build_123' });
  assert.equal(
    formatError(e),
    'rootfs builder exited with status 1\nretry with more memory (builder sandbox: rtmmkcw33uvsbep6hn03u, build: sandbox_template_build_123)',
  );
  const s = new SecretRegistry();
  s.add('supersecret');
  assert.equal(
    formatError(new ActionError('bad supersecret', { kind: 'auth' }), (t) => s.redact(t)),
    'bad ***',
  );
  assert.equal(toActionError(new Error('x')).kind, 'internal');
  const a = Object.assign(new Error('aborted'), { name: 'AbortError' });
  assert.equal(toActionError(a).kind, 'cancelled');
});
