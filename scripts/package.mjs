#!/usr/bin/env node
// Bundles the action's two entry points into dist/ (committed: it is what GitHub runs).
import { rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const ncc = new URL('../node_modules/@vercel/ncc/dist/ncc/cli.js', import.meta.url).pathname;
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
for (const [entry, out] of [['src/index.ts', 'dist'], ['src/post.ts', 'dist/post']]) {
  const r = spawnSync(process.execPath, [ncc, 'build', entry, '-o', out, '--license', 'licenses.txt', '--quiet'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
