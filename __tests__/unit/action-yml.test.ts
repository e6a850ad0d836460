/** action.yml, the code and the README must agree on every input and output. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
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

test('action.yml runs node24 with a post step that always runs', () => {
  assert.match(yml, /using: 'node24'/);
  assert.match(yml, /main: 'dist\/index\.js'/);
  assert.match(yml, /post: 'dist\/post\.js'/);
  assert.match(yml, /post-if: 'always\(\)'/);
});

test('every input is read by the code and documented in the README', () => {
  const inputs = section(yml, 'inputs');
  assert.ok(inputs.length >= 20, `inputs: ${inputs.join(', ')}`);
  for (const i of inputs) {
    assert.ok(src.includes(`'${i}'`), `input ${i} is read in src/`);
    assert.ok(readme.includes(`| \`${i}\` |`), `input ${i} is in the README table`);
  }
});

test('every output is set by the code and documented in the README', () => {
  const outputs = section(yml, 'outputs');
  const setters = readFileSync(join(ROOT, 'src', 'report', 'outputs.ts'), 'utf8');
  for (const o of outputs) {
    assert.ok(
      setters.includes(`'${o}'`) || setters.includes(`${o}:`) || setters.includes(`out.${o}`),
      `output ${o} is set in src/report/outputs.ts`,
    );
    assert.ok(readme.includes(`| \`${o}\` |`), `output ${o} is in the README table`);
  }
});

test('the User-Agent version is the package version', async () => {
  const { ACTION_VERSION } = await import('../../src/version.js');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(ACTION_VERSION, pkg.version);
});
