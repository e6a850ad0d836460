#!/usr/bin/env node
// Writes the README's inputs and outputs tables from action.yml (the one source of truth), between
// the <!-- inputs:start/end --> and <!-- outputs:start/end --> markers.
// usage: node scripts/docs.mjs [--check] [--action FILE] [--readme FILE]
//   --check   change nothing; exit 1 naming what differs (a test runs this)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const check = args.includes('--check');
const actionFile = option('--action', join(root, 'action.yml'));
const readmeFile = option('--readme', join(root, 'README.md'));

const cell = (text) =>
  String(text)
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\|/g, '\\|')
    .trim();

/** @param {Record<string, {description?: string, default?: unknown, required?: boolean}>} inputs */
function inputsTable(inputs) {
  const rows = ['| Input | Default | Description |', '|---|---|---|'];
  for (const [name, spec] of Object.entries(inputs ?? {})) {
    let description = cell(spec.description ?? '');
    let dflt = spec.default === undefined ? '' : `\`${cell(spec.default)}\``;
    // an input whose default is computed says so in its description: "Default: <what>."
    const said = /\s*Default: (.+?)\.(?=\s|$)/.exec(description);
    if (said && !dflt) {
      dflt = said[1];
      description = (description.slice(0, said.index) + description.slice(said.index + said[0].length)).trim();
    }
    rows.push(`| \`${name}\` | ${dflt} | ${description}${spec.required ? ' **Required.**' : ''} |`);
  }
  return rows.join('\n');
}

/** @param {Record<string, {description?: string}>} outputs */
function outputsTable(outputs) {
  const rows = ['| Output | Description |', '|---|---|'];
  for (const [name, spec] of Object.entries(outputs ?? {})) rows.push(`| \`${name}\` | ${cell(spec.description ?? '')} |`);
  return rows.join('\n');
}

function replaceBetween(text, marker, body) {
  const start = `<!-- ${marker}:start (generated from action.yml by npm run docs) -->`;
  const end = `<!-- ${marker}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${readmeFile} has no ${start} ... ${end} markers`);
  return text.slice(0, i + start.length) + '\n' + body + '\n' + text.slice(j);
}

const action = parse(readFileSync(actionFile, 'utf8'));
const readme = readFileSync(readmeFile, 'utf8');
const fresh = replaceBetween(replaceBetween(readme, 'inputs', inputsTable(action.inputs)), 'outputs', outputsTable(action.outputs));

if (fresh === readme) {
  if (!check) console.log(`${readmeFile} is up to date`);
} else if (check) {
  const have = new Set(readme.split('\n'));
  const differ = fresh.split('\n').filter((l) => l.startsWith('| `') && !have.has(l));
  console.error(`README.md does not match action.yml (run npm run docs); rows that differ:\n${differ.join('\n')}`);
  process.exit(1);
} else {
  writeFileSync(readmeFile, fresh);
  console.log(`updated ${readmeFile}`);
}
