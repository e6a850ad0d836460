/** dist/ is what GitHub runs: it must be exactly what `npm run package` makes from src/ now. */
import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../tools/action-runner.js';

test('dist/ matches a fresh build of src/ (run `npm run package` and commit dist/)', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'check-dist-')), 'dist');
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'package.mjs'), out], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const fresh = readdirSync(out).sort();
  assert.deepEqual(readdirSync(join(ROOT, 'dist')).sort(), fresh);
  for (const f of fresh) {
    assert.ok(readFileSync(join(ROOT, 'dist', f)).equals(readFileSync(join(out, f))), `dist/${f} is stale: run npm run package`);
  }
});

test('the bundle starts and fails cleanly without inputs (smoke run of dist/index.js)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'smoke-'));
  const env = { PATH: process.env.PATH ?? '', GITHUB_OUTPUT: join(dir, 'o'), GITHUB_STEP_SUMMARY: join(dir, 's') };
  for (const f of [env.GITHUB_OUTPUT, env.GITHUB_STEP_SUMMARY]) spawnSync('touch', [f]);
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'index.js')], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /::error::Input 'dockerfile': Dockerfile not found/);
  const post = spawnSync(process.execPath, [join(ROOT, 'dist', 'post.js')], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(post.status, 0, post.stderr);
  assert.match(post.stdout, /No builder sandbox left to clean up/);
});
