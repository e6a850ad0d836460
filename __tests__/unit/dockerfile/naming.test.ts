import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import path from 'node:path';
import { defaultNameForDockerfile, defaultNameForImport } from '../../../src/dockerfile/naming.js';

test('§2.7 default_registered_name_uses_parent_for_dockerfile: /tmp/example/Dockerfile → example', () => {
  assert.equal(defaultNameForDockerfile('/tmp/example/Dockerfile'), 'example');
});

test('§2.7: stem `dockerfile` in any case, also Dockerfile.dev, names the parent directory', () => {
  assert.equal(defaultNameForDockerfile('/tmp/example/Dockerfile.dev'), 'example');
  assert.equal(defaultNameForDockerfile('/srv/My App/DOCKERFILE'), 'My App');
  assert.equal(defaultNameForDockerfile('/srv/api/dockerfile.prod'), 'api');
});

test('§2.7: otherwise the file stem (last extension dropped)', () => {
  assert.equal(defaultNameForDockerfile('/repo/app.Dockerfile'), 'app');
  assert.equal(defaultNameForDockerfile('/repo/web.dockerfile'), 'web');
  assert.equal(defaultNameForDockerfile('/repo/ci.base.Dockerfile'), 'ci.base');
  assert.equal(defaultNameForDockerfile('/repo/Containerfile'), 'Containerfile');
  assert.equal(defaultNameForDockerfile('/repo/.hidden'), '.hidden');
});

test('§2.7: ./Dockerfile and relative paths use the current directory', () => {
  assert.equal(defaultNameForDockerfile('./Dockerfile', '/home/runner/work/my-repo'), 'my-repo');
  assert.equal(defaultNameForDockerfile('Dockerfile', '/home/runner/work/my-repo'), 'my-repo');
  assert.equal(defaultNameForDockerfile('docker/Dockerfile', '/w/repo'), 'docker');
  assert.equal(defaultNameForDockerfile('Dockerfile'), path.basename(process.cwd()) || 'sandbox-image');
});

test('departure: ../Dockerfile names the real parent (the reference would give sandbox-image)', () => {
  assert.equal(defaultNameForDockerfile('../Dockerfile', '/w/repo/sub'), 'repo');
});

test('§2.7: a Dockerfile at the root has no parent name → sandbox-image', () => {
  assert.equal(defaultNameForDockerfile('/Dockerfile'), 'sandbox-image');
});

test('§2.8 default_registered_name_from_image_strips_path_tag_and_digest', () => {
  assert.equal(defaultNameForImport('pytorch/pytorch:2.4.1-runtime'), 'pytorch');
  assert.equal(defaultNameForImport(`ghcr.io/org/app@sha256:${'a'.repeat(64)}`), 'app');
  assert.equal(defaultNameForImport('ubuntu'), 'ubuntu');
  assert.equal(defaultNameForImport('ubuntu:24.04'), 'ubuntu');
});

test('§2.8: registry port, tag+digest, empty results', () => {
  assert.equal(defaultNameForImport('localhost:5000/team/app:1.2'), 'app');
  assert.equal(defaultNameForImport('app:1@sha256:abc'), 'app');
  assert.equal(defaultNameForImport('  ubuntu:24.04  '), 'ubuntu');
  assert.equal(defaultNameForImport('@sha256:abc'), 'imported-image');
  assert.equal(defaultNameForImport('registry.example.com/'), 'imported-image');
  assert.equal(defaultNameForImport('ubuntu:'), 'ubuntu:', 'a `:` with an empty tag is kept (§2.8: only a non-empty tag is dropped)');
});
