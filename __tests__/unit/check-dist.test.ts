/** dist/ is what GitHub runs: it must be exactly what `npm run package` makes from src/ now. */
import { expect, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../tools/action-runner.js';

test('dist/ matches a fresh build of src/ (run `npm run package` and commit dist/)', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'check-dist-')), 'dist');
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'package.mjs'), out], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  const fresh = readdirSync(out).sort();
  // besides the entry, only chunks of dynamic imports (N.index.js)
  expect(fresh.filter((f) => !/^\d+\.index\.js(\.map)?$/.test(f))).toStrictEqual([
    'index.js',
    'index.js.map',
    'licenses.txt',
    'package.json',
    'sourcemap-register.cjs',
  ]);
  expect(readdirSync(join(ROOT, 'dist')).sort()).toStrictEqual(fresh);
  for (const f of fresh) {
    assert.ok(readFileSync(join(ROOT, 'dist', f)).equals(readFileSync(join(out, f))), `dist/${f} is stale: run npm run package`);
  }
});

test('licenses.txt names every package the bundle contains', () => {
  const map = JSON.parse(readFileSync(join(ROOT, 'dist', 'index.js.map'), 'utf8')) as { sources: string[] };
  const bundled = new Set<string>();
  for (const s of map.sources) {
    const i = s.lastIndexOf('node_modules/');
    if (i < 0) continue;
    const [scope, name] = s.slice(i + 'node_modules/'.length).split('/');
    bundled.add(scope.startsWith('@') ? `${scope}/${name}` : scope);
  }
  assert.ok(bundled.has('@actions/core') && bundled.has('undici'), `the source map lists the bundled packages: ${[...bundled].join(', ')}`);
  const licences = readFileSync(join(ROOT, 'dist', 'licenses.txt'), 'utf8');
  // ncc writes each package as "name\nlicence\ntext", packages separated by a blank line
  const listed = new Set(licences.split(/\n\n(?=\S+\n\S+\n)/).map((block) => block.split('\n')[0]));
  expect([...bundled].filter((p) => !listed.has(p))).toStrictEqual([]);
});

test('the bundle runs both steps: main without STATE_isPost (fails cleanly without inputs), post with it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'smoke-'));
  const env = {
    PATH: process.env.PATH ?? '',
    GITHUB_OUTPUT: join(dir, 'o'),
    GITHUB_STEP_SUMMARY: join(dir, 's'),
    GITHUB_STATE: join(dir, 'state'),
  };
  for (const f of [env.GITHUB_OUTPUT, env.GITHUB_STEP_SUMMARY, env.GITHUB_STATE]) writeFileSync(f, '');
  const bundle = join(ROOT, 'dist', 'index.js');
  const r = spawnSync(process.execPath, [bundle], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /::error::Input 'dockerfile': Dockerfile not found/);
  assert.match(readFileSync(env.GITHUB_STATE, 'utf8'), /^isPost<<(.+)\ntrue\n\1$/m, 'the main step marks its post step');
  const post = spawnSync(process.execPath, [bundle], { cwd: dir, env: { ...env, STATE_isPost: 'true' }, encoding: 'utf8' });
  assert.equal(post.status, 0, post.stderr);
  assert.match(post.stdout, /No builder sandbox left to clean up/);
  assert.doesNotMatch(post.stdout, /Dockerfile not found/, 'the post step does not run the build');
});
