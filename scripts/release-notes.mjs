#!/usr/bin/env node
// Prints the CHANGELOG.md section of one version (its body, without the heading): the release
// workflow publishes it as the GitHub release notes. Fails when the section is missing or empty.
// usage: node scripts/release-notes.mjs <X.Y.Z> [CHANGELOG.md]
import { readFileSync } from 'node:fs';

const [version, file = new URL('../CHANGELOG.md', import.meta.url).pathname] = process.argv.slice(2);
if (!/^\d+\.\d+\.\d+$/.test(version ?? '')) {
  console.error('usage: node scripts/release-notes.mjs <X.Y.Z> [CHANGELOG.md]');
  process.exit(2);
}
const lines = readFileSync(file, 'utf8').split('\n');
const start = lines.findIndex((l) => new RegExp(`^## \\[?${version.replace(/\./g, '\\.')}\\]?(\\s|$)`).test(l));
if (start < 0) {
  console.error(`${file} has no "## [${version}]" section: add one before tagging v${version}`);
  process.exit(1);
}
let end = lines.findIndex((l, i) => i > start && (/^## /.test(l) || /^\[[^\]]+\]: /.test(l)));
if (end < 0) end = lines.length;
const body = lines
  .slice(start + 1, end)
  .join('\n')
  .trim();
if (!body) {
  console.error(`the ${version} section of ${file} is empty`);
  process.exit(1);
}
process.stdout.write(body + '\n');
