#!/usr/bin/env node
// Bundles the action's two entry points into dist/ (committed: it is what GitHub runs).
// esbuild, not ncc: it bundles without type-checking (`npm run typecheck` does that), is fast and
// gives byte-identical output for the same sources, which the check-dist test relies on.
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const outdir = process.argv[2] ?? `${root}dist`;
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: { index: 'src/index.ts', post: 'src/post.ts' },
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  legalComments: 'none',
  logLevel: 'warning',
  // Bundled CommonJS dependencies call require() for Node built-ins; give ESM output a require.
  banner: {
    js: "import { createRequire as __sbxCreateRequire } from 'node:module';\nconst require = __sbxCreateRequire(import.meta.url);",
  },
});
writeFileSync(`${outdir}/package.json`, '{ "type": "module" }\n');
