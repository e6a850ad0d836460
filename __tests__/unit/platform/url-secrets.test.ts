import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { registerBodySecrets, registerUrlSecrets, isSignedUrl } from '../../../src/platform/url-secrets.js';
import { SecretRegistry } from '../../../src/secrets.js';

const S3 = 'https://bucket.s3.amazonaws.com/k.pack?X-Amz-Credential=AKIA1&X-Amz-Signature=abcdef0123';

test('signed URLs are recognised by their query keys; ordinary queries are not secrets', () => {
  assert.equal(isSignedUrl(S3), true);
  assert.equal(isSignedUrl('https://acct.blob.core.windows.net/c/b?sv=2020&sig=abc'), true);
  assert.equal(isSignedUrl('https://example.com/install.sh?version=1.2.3'), false);
  assert.equal(isSignedUrl('https://example.com/x'), false);
});

test('a template that echoes a Dockerfile with public URLs masks nothing (outputs stay intact)', () => {
  const s = new SecretRegistry();
  const template = {
    id: 't',
    dockerfile:
      'FROM x\nRUN curl "https://example.com/install.sh?version=1.2.3" | sh\nENV PIP_INDEX_URL=https://pypi.org/simple?proj=demo\n',
    sourceUrl: 'https://example.com/a?b=c',
  };
  registerBodySecrets(Buffer.from(JSON.stringify(template)), s);
  assert.deepEqual(s.values(), []);
});

test('signed URLs anywhere in a JSON or text body are registered, with their query strings', () => {
  const j = new SecretRegistry();
  registerBodySecrets(Buffer.from(JSON.stringify({ error: 'x', upload: { url: S3 } })), j);
  assert.ok(j.has(S3) && j.has(S3.slice(S3.indexOf('?') + 1)), 'JSON');
  const t = new SecretRegistry();
  registerBodySecrets(Buffer.from(`<html>could not presign ${S3} (quota)</html>`), t);
  assert.ok(t.has(S3), 'text');
});

test('in a pre-signing answer every URL with a query is a secret, whatever its keys are called', () => {
  const s = new SecretRegistry();
  const url = 'https://dl.example/p.tlsnap?p=5ec2e7515ec2e751';
  registerUrlSecrets({ kind: 'single_get', url }, s, '', true);
  assert.ok(s.has(url), 'registered');
  const plain = new SecretRegistry();
  registerUrlSecrets({ kind: 'single_get', url }, plain);
  assert.deepEqual(plain.values(), []);
});
