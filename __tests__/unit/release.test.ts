/** What a release needs: the licence, the version in package.json, and a CHANGELOG section the release workflow publishes. */
import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../tools/action-runner.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; license: string };

function notes(...args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, 'scripts', 'release-notes.mjs'), ...args], { cwd: ROOT, encoding: 'utf8' });
}

test('LICENSE is the Apache License 2.0, as package.json says', () => {
  const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
  assert.match(license, /^\s*Apache License\s+Version 2\.0, January 2004/);
  assert.match(license, /END OF TERMS AND CONDITIONS/);
  assert.match(license, /Copyright \d{4} Tensorlake/);
  assert.equal(pkg.license, 'Apache-2.0');
});

test("the release notes of package.json's version come from its CHANGELOG section", () => {
  const r = notes(pkg.version);
  assert.equal(r.status, 0, r.stderr);
  const changelog = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8');
  assert.match(changelog, new RegExp(`^## \\[${pkg.version.replace(/\./g, '\\.')}\\] - \\d{4}-\\d{2}-\\d{2}$`, 'm'));
  assert.ok(r.stdout.length > 200, r.stdout);
  assert.doesNotMatch(r.stdout, /^## /m, 'only that section, no other version heading');
  assert.doesNotMatch(r.stdout, /^\[[^\]]+\]: /m, 'no link definitions');
});

test('release notes: the section ends at the next version; a missing or empty section fails', () => {
  const dir = mkdtempSync(join(tmpdir(), 'changelog-'));
  const file = join(dir, 'CHANGELOG.md');
  writeFileSync(
    file,
    '# Changelog\n\n## [2.1.0] - 2027-01-02\n\n- two\n\n## [2.0.0] - 2027-01-01\n\n- one\n\n## [1.9.0]\n\n[2.1.0]: https://x\n',
  );
  assert.equal(notes('2.1.0', file).stdout, '- two\n');
  assert.equal(notes('2.0.0', file).stdout, '- one\n');
  const missing = notes('3.0.0', file);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /has no "## \[3\.0\.0\]" section/);
  const empty = notes('1.9.0', file);
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /the 1\.9\.0 section .* is empty/);
  assert.equal(notes('v1', file).status, 2, 'not a version');
});
