/** action.yml, the code and the README must agree on every input and output (the README's tables are generated: npm run docs). */
import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../tools/action-runner.js';

function section(yml: string, name: 'inputs' | 'outputs'): string[] {
  const lines = yml.split('\n');
  const start = lines.indexOf(`${name}:`);
  assert.ok(start >= 0, `action.yml has ${name}`);
  const keys: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^\S/.test(line)) break;
    const m = /^ {2}([a-z0-9-]+):\s*$/.exec(line);
    if (m) keys.push(m[1]);
  }
  return keys;
}

function sources(dir: string): string {
  let text = '';
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) text += sources(p);
    else if (n.endsWith('.ts')) text += readFileSync(p, 'utf8');
  }
  return text;
}

const yml = readFileSync(join(ROOT, 'action.yml'), 'utf8');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const src = sources(join(ROOT, 'src'));

test('action.yml runs node24, one bundle for main and for a post step that always runs', () => {
  assert.match(yml, /using: 'node24'/);
  assert.match(yml, /main: 'dist\/index\.js'/);
  assert.match(yml, /post: 'dist\/index\.js'/);
  assert.match(yml, /post-if: 'always\(\)'/);
});

test('every input is read by the code', () => {
  const inputs = section(yml, 'inputs');
  assert.ok(inputs.length >= 20, `inputs: ${inputs.join(', ')}`);
  // a read is a call of an input reader with the name as its argument (`src.input('wait')`,
  // `boolInput(src, 'wait', …)`, `core.getInput('pat')`, `pick(src, 'api-url', …)`), not any string
  for (const i of inputs) {
    const read = new RegExp(`\\b(?:\\w*[iI]nput|pick|positiveNumber)\\((?:\\w+, )?'${i.replace(/-/g, '\\-')}'`);
    assert.ok(read.test(src), `input ${i} is read in src/ (by an input reader call)`);
  }
});

test('every output is set by the code', () => {
  const outputs = section(yml, 'outputs');
  const setters = readFileSync(join(ROOT, 'src', 'report', 'outputs.ts'), 'utf8');
  const main = readFileSync(join(ROOT, 'src', 'main.ts'), 'utf8');
  for (const o of outputs) {
    assert.ok(
      setters.includes(`'${o}'`) || setters.includes(`${o}:`) || setters.includes(`out.${o}`) || main.includes(`setOutput('${o}'`),
      `output ${o} is set in src/report/outputs.ts or src/main.ts`,
    );
  }
});

function docs(...args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, 'scripts', 'docs.mjs'), '--check', ...args], { cwd: ROOT, encoding: 'utf8' });
}

test('the README tables are what npm run docs generates from action.yml', () => {
  const r = docs();
  assert.equal(r.status, 0, r.stderr);
  for (const i of section(yml, 'inputs')) assert.ok(readme.includes(`| \`${i}\` |`), `input ${i} is in the README table`);
  for (const o of section(yml, 'outputs')) assert.ok(readme.includes(`| \`${o}\` |`), `output ${o} is in the README table`);
});

test('the docs check fails, naming the row, when action.yml and the README disagree', () => {
  const dir = mkdtempSync(join(tmpdir(), 'docs-check-'));
  copyFileSync(join(ROOT, 'README.md'), join(dir, 'README.md'));
  const changed = yml.replace(/( {2}build-timeout:\n {4}description: ')[^']*'/, "$1How long the builder may run, changed.'");
  assert.notEqual(changed, yml);
  writeFileSync(join(dir, 'action.yml'), changed);
  const r = docs('--action', join(dir, 'action.yml'), '--readme', join(dir, 'README.md'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /README\.md does not match action\.yml \(run npm run docs\)/);
  assert.match(r.stderr, /\| `build-timeout` \| `60m` \| How long the builder may run, changed\. \|/);
  const write = spawnSync(
    process.execPath,
    [join(ROOT, 'scripts', 'docs.mjs'), '--action', join(dir, 'action.yml'), '--readme', join(dir, 'README.md')],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(write.status, 0, write.stderr);
  assert.equal(docs('--action', join(dir, 'action.yml'), '--readme', join(dir, 'README.md')).status, 0, 'npm run docs fixes it');
});

test('the User-Agent version is the package version', async () => {
  const { ACTION_VERSION } = await import('../../src/version.js');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(ACTION_VERSION, pkg.version);
});
