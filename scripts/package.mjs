#!/usr/bin/env node
// Bundles the action into dist/ with @vercel/ncc (committed: it is what GitHub runs). One entry,
// src/index.ts, serves both steps of action.yml (src/step.ts tells main from post).
// dist/: index.js (ESM), index.js.map, sourcemap-register.cjs, licenses.txt (every bundled
// dependency's licence), package.json (type: module).
// Reproducible: the same sources give the same bytes wherever the checkout lives (the check-dist
// test rebuilds into a temp directory and compares). ncc type-checks src/ (src/tsconfig.json) while
// bundling; `npm run typecheck` checks everything.
// usage: node scripts/package.mjs [outdir]   (default: dist)
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ncc from '@vercel/ncc';

const root = new URL('..', import.meta.url).pathname;
const outdir = resolve(process.argv[2] ?? join(root, 'dist'));

// ncc's asset relocator rewrites path expressions it can evaluate at build time into bundled
// copies: `path.resolve(contextDir, '.dockerignore')` became a path into this checkout's examples/.
// The action reads no file of its own at run time, so no asset may be emitted: an empty directory
// as the asset base leaves every such expression as written.
const noAssets = mkdtempSync(join(tmpdir(), 'ncc-no-assets-'));
process.chdir(root);
let built;
try {
  built = await ncc(join(root, 'src', 'index.ts'), {
    cache: false,
    filterAssetBase: noAssets,
    sourceMap: true,
    sourceMapRegister: true,
    license: 'licenses.txt',
    // action.yml runs node24: the bundle targets what Node 24 runs natively
    target: 'es2024',
    quiet: true,
  });
} finally {
  rmSync(noAssets, { recursive: true, force: true });
}
const { code, map, assets } = built;
const mapText = assets['index.js.map'] ? String(assets['index.js.map'].source) : map;

const expected = ['index.js.map', 'licenses.txt', 'package.json', 'sourcemap-register.cjs'];
// a dynamic import() becomes a chunk of its own (N.index.js and its map), loaded by index.js
const names = Object.keys(assets)
  .filter((n) => !/^\d+\.index\.js(\.map)?$/.test(n))
  .sort();
if (names.join() !== expected.join())
  throw new Error(`ncc emitted unexpected assets: ${names.join(', ')} (expected ${expected.join(', ')})`);
if (code.includes('__nccwpck_require__.ab +'))
  throw new Error('ncc relocated a file path into the bundle (see the asset note in scripts/package.mjs)');
if (code.includes(root) || mapText.includes(root))
  throw new Error(`the bundle mentions the checkout's path ${root}: it would not be reproducible`);

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
// ncc's licenses.txt covers the entry chunk only: list every package of every chunk's source map
// instead, in ncc's format (name, licence, licence text; blank line between packages)
const packages = new Set();
for (const [name, asset] of Object.entries(assets)) {
  if (!name.endsWith('.map')) continue;
  for (const src of JSON.parse(String(asset.source)).sources) {
    const i = src.lastIndexOf('node_modules/');
    if (i < 0) continue;
    const [scope, pkg] = src.slice(i + 'node_modules/'.length).split('/');
    packages.add(scope.startsWith('@') ? `${scope}/${pkg}` : scope);
  }
}
const licences = [...packages].sort().map((pkg) => {
  const dir = join(root, 'node_modules', pkg);
  const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  return `${pkg}\n${meta.license ?? 'UNKNOWN'}\n${file ? readFileSync(join(dir, file), 'utf8').trim() : ''}`;
});
assets['licenses.txt'] = { source: licences.join('\n\n') + '\n' };
writeFileSync(join(outdir, 'index.js'), code);
for (const [name, asset] of Object.entries(assets)) writeFileSync(join(outdir, name), asset.source);
