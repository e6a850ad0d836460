import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRegistryCredentials } from '../../../src/pipeline/credentials.js';
import { SecretRegistry } from '../../../src/secrets.js';

function cfg(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'dockercfg-'));
  writeFileSync(join(dir, 'config.json'), content);
  return dir;
}

test('docker/login-action auths are forwarded verbatim and every credential is a secret', async () => {
  const auth = Buffer.from('octocat:ghp_supersecret').toString('base64');
  const dir = cfg(
    JSON.stringify({
      auths: { 'ghcr.io': { auth }, 'https://index.docker.io/v1/': { identitytoken: 'idtok_123456' }, empty: {} },
      credsStore: 'desktop',
    }),
  );
  const masked: string[] = [];
  const secrets = new SecretRegistry((v) => masked.push(v));
  const c = await loadRegistryCredentials({ DOCKER_CONFIG: dir }, secrets);
  assert.deepEqual(JSON.parse(c.dockerConfigJson!), {
    auths: { 'ghcr.io': { auth }, 'https://index.docker.io/v1/': { identitytoken: 'idtok_123456' } },
  });
  assert.deepEqual(c.registries, ['ghcr.io', 'https://index.docker.io/v1/']);
  assert.deepEqual(c.helpersSkipped, ['credsStore desktop']);
  for (const s of [auth, 'ghp_supersecret', 'idtok_123456']) assert.ok(masked.includes(s), `masked ${s}`);
  assert.equal(secrets.redact(`x ${auth} y ghp_supersecret`), 'x *** y ***');
});

test('username/password entries are encoded; missing file means no credentials; bad JSON is a clear error', async () => {
  const dir = cfg(JSON.stringify({ auths: { 'r.io': { username: 'u', password: 'pw_123456' } } }));
  const c = await loadRegistryCredentials({ DOCKER_CONFIG: dir }, new SecretRegistry());
  assert.equal(JSON.parse(c.dockerConfigJson!).auths['r.io'].auth, Buffer.from('u:pw_123456').toString('base64'));
  const none = await loadRegistryCredentials({ DOCKER_CONFIG: join(dir, 'nope') }, new SecretRegistry());
  assert.equal(none.dockerConfigJson, undefined);
  await assert.rejects(
    loadRegistryCredentials({ DOCKER_CONFIG: cfg('{oops') }, new SecretRegistry()),
    /Failed to load Docker config: .*not valid JSON/,
  );
});

test('registrytoken entries are not forwarded, but said so (and the token is a secret)', async () => {
  const dir = cfg(JSON.stringify({ auths: { 'registry.example.com': { registrytoken: 'rt_bearer_0123456789' } } }));
  const masked: string[] = [];
  const c = await loadRegistryCredentials({ DOCKER_CONFIG: dir }, new SecretRegistry((v) => masked.push(v)));
  assert.equal(c.dockerConfigJson && JSON.parse(c.dockerConfigJson).auths['registry.example.com'], undefined, 'not forwarded');
  assert.deepEqual(c.registryTokensSkipped, ['registry.example.com']);
  assert.ok(masked.includes('rt_bearer_0123456789'), 'masked');
});
