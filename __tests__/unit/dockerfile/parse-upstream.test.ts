// BuildKit's own parser tests (frontend/dockerfile/parser), ported as data by
// scripts/port-upstream-tests.mjs (see __tests__/data/upstream/README.md), run against this
// project's Dockerfile parser.
import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { heredocsFromLine, parseDockerfile, parseHeredoc, parseWords, type Heredoc } from '../../../src/dockerfile/parse.js';
import { ActionError } from '../../../src/errors.js';
import { dumpDockerfile } from './dump.js';

const DATA = new URL('../../data/upstream/buildkit-parser/', import.meta.url);
const read = (rel: string): string => readFileSync(new URL(rel, DATA), 'utf8');
const dirs = (rel: string): string[] => readdirSync(new URL(rel, DATA)).sort();

interface GoHeredoc {
  Name?: string;
  Content?: string;
  Expand?: boolean;
  Chomp?: boolean;
  FileDescriptor?: number;
}
interface Tables {
  lineInfo: { file: string; startLine: number; endLine: number; children: number[][] };
  parseWords: Array<{ input: string; expect: string[] }>;
  emptyContinuation: { dockerfile: string; count: number; warnings: Array<{ index: number; contains: string }> };
  scannerError: { lineBytes: number; error: string };
  heredocs: { dockerfile: string; expected: Array<GoHeredoc[] | null> };
  jsonHeredocs: { dockerfile: string; children: number[] };
  heredocHelpers: { valid: string[]; invalid: string[]; notHeredocs: string[] };
  heredocsFromLineCases: Array<{ line: string; names: string[] }>;
}
const t = JSON.parse(read('parser-tests.json')) as Tables;

const goHeredoc = (h: GoHeredoc): Heredoc => ({
  name: h.Name ?? '',
  content: h.Content ?? '',
  expand: h.Expand ?? false,
  chomp: h.Chomp ?? false,
  fileDescriptor: h.FileDescriptor ?? 0,
});

test('TestParseCases: every testfiles/*/Dockerfile dumps to its result file', () => {
  const cases = dirs('testfiles');
  assert.ok(cases.length >= 30, `${cases.length} cases`);
  for (const dir of cases) {
    const parsed = parseDockerfile(read(`testfiles/${dir}/Dockerfile`));
    assert.equal(`${dumpDockerfile(parsed)}\n`, read(`testfiles/${dir}/result`), dir);
  }
});

test('TestParseErrorCases: every testfiles-negative/*/Dockerfile is refused', () => {
  const cases = dirs('testfiles-negative');
  assert.ok(cases.length >= 4);
  for (const dir of cases) {
    assert.throws(
      () => parseDockerfile(read(`testfiles-negative/${dir}/Dockerfile`)),
      (e: unknown) => e instanceof ActionError && e.kind === 'plan',
      dir,
    );
  }
});

test('TestParseIncludesLineNumbers (testfile-line)', () => {
  const parsed = parseDockerfile(read(t.lineInfo.file));
  assert.deepEqual(
    parsed.instructions.map((i) => [i.line, i.endLine]),
    t.lineInfo.children,
  );
  assert.equal(parsed.instructions[0].line, t.lineInfo.startLine);
  assert.equal(parsed.instructions.at(-1)!.endLine, t.lineInfo.endLine);
});

test('TestParseWords', () => {
  for (const c of t.parseWords) assert.deepEqual(parseWords(c.input, { escape: '\\' }), c.expect, c.input);
});

test('TestParseWarnsOnEmptyContinutationLine', () => {
  const { warnings } = parseDockerfile(t.emptyContinuation.dockerfile);
  assert.equal(warnings.length, t.emptyContinuation.count);
  for (const w of t.emptyContinuation.warnings) assert.ok(warnings[w.index].message.includes(w.contains), w.contains);
});

test('TestParseReturnsScannerErrors: a line over 64 KiB', () => {
  const label = 'a'.repeat(t.scannerError.lineBytes);
  const text = `\n\t\tFROM image\n\t\tLABEL test=${label}\n`;
  assert.throws(
    () => parseDockerfile(text),
    (e: unknown) => e instanceof ActionError && e.message === `line 3: ${t.scannerError.error}`,
  );
});

test('TestParseExtractsHeredoc', () => {
  const parsed = parseDockerfile(t.heredocs.dockerfile);
  assert.equal(parsed.instructions.length, t.heredocs.expected.length + 1);
  t.heredocs.expected.forEach((want, i) => {
    const ins = parsed.instructions[i + 1];
    assert.deepEqual(ins.heredocs, (want ?? []).map(goHeredoc), `instruction ${i + 2} (${ins.original})`);
  });
});

test('TestParseJSONHeredoc', () => {
  const parsed = parseDockerfile(t.jsonHeredocs.dockerfile);
  for (const i of t.jsonHeredocs.children) assert.deepEqual(parsed.instructions[i].heredocs, []);
});

test('TestParseHeredocHelpers', () => {
  for (const src of t.heredocHelpers.notHeredocs) assert.equal(parseHeredoc(src), null, src);
  for (const src of t.heredocHelpers.valid) assert.equal(parseHeredoc(src)?.name, 'EOF', src);
  for (const src of t.heredocHelpers.invalid) assert.throws(() => parseHeredoc(src), src);
});

test('TestHeredocsFromLine', () => {
  // As upstream: every heredoc found has the expected name (upstream iterates over what was found,
  // so for `RUN <<- EOF`, where BuildKit's lexer splits `<<-` from `EOF` and finds none, it checks nothing).
  let found = 0;
  for (const c of t.heredocsFromLineCases) {
    const names = heredocsFromLine(c.line).map((h) => h.name);
    assert.ok(names.length <= c.names.length, c.line);
    names.forEach((n, i) => assert.equal(n, c.names[i], c.line));
    found += names.length;
  }
  assert.ok(found >= 8, `${found} heredocs found`);
  assert.deepEqual(heredocsFromLine('RUN <<- EOF'), []);
});
