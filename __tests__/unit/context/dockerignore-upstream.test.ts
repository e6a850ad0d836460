// moby/patternmatcher's own test tables (ported as data by scripts/port-upstream-tests.mjs, see
// __tests__/data/upstream/README.md), run against this project's .dockerignore matcher.
import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DockerIgnoreMatcher, patternKind, readIgnoreLines } from '../../../src/context/dockerignore.js';
import { ActionError } from '../../../src/errors.js';

const DATA = new URL('../../data/upstream/patternmatcher/', import.meta.url);
const load = <T>(name: string): T => JSON.parse(readFileSync(new URL(name, DATA), 'utf8')) as T;

interface Tables {
  single: Array<{ name: string; patterns: string[]; text: string; expect: boolean | 'error' }>;
  matches: Array<{ pattern: string; text: string; pass: boolean }>;
  matchesNonWindows: Array<{ pattern: string; text: string; pass: boolean }>;
  multiPattern: Array<{ patterns: string[]; text: string; pass: boolean }>;
  filepathMatch: Array<{ pattern: string; text: string; match: boolean; error: boolean }>;
  compile: Array<{ pattern: string; kind: string }>;
  malformedAtMatchTime: string[];
}
const t = load<Tables>('patternmatcher.json');

/** moby's package-level `Matches(file, patterns)`: "." never matches; a bad pattern is an error. */
function matches(file: string, patterns: string[]): boolean | 'error' {
  let m: DockerIgnoreMatcher;
  try {
    m = new DockerIgnoreMatcher(patterns);
  } catch (e) {
    if (e instanceof ActionError) return 'error';
    throw e;
  }
  return file === '.' ? false : m.matchesOrParentMatches(file);
}

test('patternmatcher: the single-case tests (TestWildcardMatches ... TestMatchesWithMalformedPatterns)', () => {
  assert.ok(t.single.length >= 10);
  for (const c of t.single) assert.equal(matches(c.text, c.patterns), c.expect, `${c.name}: ${JSON.stringify(c.patterns)} vs ${c.text}`);
});

test('patternmatcher: TestMatches (one pattern) and its non-Windows cases', () => {
  const cases = [...t.matches, ...t.matchesNonWindows];
  assert.ok(cases.length > 60);
  for (const c of cases) assert.equal(matches(c.text, [c.pattern]), c.pass, `${c.pattern} vs ${c.text}`);
});

test('patternmatcher: TestMatches (several patterns)', () => {
  for (const c of t.multiPattern) assert.equal(matches(c.text, c.patterns), c.pass, `${JSON.stringify(c.patterns)} vs ${c.text}`);
});

test("patternmatcher: TestMatch (Go's filepath.Match table, errors included)", () => {
  assert.ok(t.filepathMatch.length > 50);
  for (const c of t.filepathMatch) {
    assert.equal(matches(c.text, [c.pattern]), c.error ? 'error' : c.match, `${c.pattern} vs ${c.text}`);
  }
});

test('patternmatcher: TestCompile match kinds (exact, prefix, suffix, regexp)', () => {
  for (const c of t.compile) assert.equal(patternKind(c.pattern), c.kind, c.pattern);
});

test('patternmatcher: a pattern whose regular expression Go rejects fails (the [Local-Only] regression test)', () => {
  for (const p of t.malformedAtMatchTime) assert.equal(matches('x', [p]), 'error', p);
});

test('ignorefile: TestReadAll', () => {
  const d = load<{ content: string; expected: string[] }>('ignorefile.json');
  assert.deepEqual(
    readIgnoreLines(d.content.split('\n')).map((p) => p.pattern),
    d.expected,
  );
  assert.deepEqual(readIgnoreLines([]), []);
});
