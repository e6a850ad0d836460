#!/usr/bin/env node
// Ports the reference implementations' own test tables into __tests__/data/upstream as data, so the
// project's tests check the .dockerignore matcher and the Dockerfile parser against them.
// usage: node scripts/port-upstream-tests.mjs <moby/patternmatcher git dir> <moby/buildkit git dir>
// The Go table literals are read with a small Go-literal reader (strings, numbers, booleans,
// identifiers, composite literals); the parser's test Dockerfiles and result files are copied.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const [pmGit, bkGit] = process.argv.slice(2);
if (!pmGit || !bkGit) {
  console.error('usage: node scripts/port-upstream-tests.mjs <patternmatcher git dir> <buildkit git dir>');
  process.exit(2);
}
const root = new URL('..', import.meta.url).pathname;
const out = join(root, '__tests__', 'data', 'upstream');

const git = (dir, ...args) => execFileSync('git', ['--git-dir', dir, ...args], { maxBuffer: 64 << 20 });
const show = (dir, rev, p) => git(dir, 'show', `${rev}:${p}`);
const head = (dir) => git(dir, 'rev-parse', 'HEAD').toString().trim();

// ---- a reader for the Go literals the tables are written in ----
function goString(body) {
  let s = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      s += c;
      continue;
    }
    const e = body[++i];
    const simple = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"' };
    if (e in simple) s += simple[e];
    else if (e === 'x') {
      s += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e === 'u') {
      s += String.fromCodePoint(parseInt(body.slice(i + 1, i + 5), 16));
      i += 4;
    } else if (e === 'U') {
      s += String.fromCodePoint(parseInt(body.slice(i + 1, i + 9), 16));
      i += 8;
    } else if (/[0-7]/.test(e)) {
      s += String.fromCharCode(parseInt(body.slice(i, i + 3), 8));
      i += 2;
    } else throw new Error(`unknown Go escape \\${e}`);
  }
  return s;
}

function tokenize(src, start) {
  const toks = [];
  let i = start;
  let depth = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) i++;
    else if (src.startsWith('//', i)) i = src.indexOf('\n', i);
    else if (c === '"') {
      let j = i + 1;
      while (src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      toks.push({ t: 'str', v: goString(src.slice(i + 1, j)) });
      i = j + 1;
    } else if (c === '`') {
      const j = src.indexOf('`', i + 1);
      toks.push({ t: 'str', v: src.slice(i + 1, j) });
      i = j + 1;
    } else if ('{}[],:'.includes(c)) {
      toks.push({ t: c });
      if (c === '{') depth++;
      if (c === '}' && --depth === 0) return toks;
      i++;
    } else {
      const m = /^[A-Za-z0-9_.]+/.exec(src.slice(i));
      if (!m) throw new Error(`unexpected ${JSON.stringify(src.slice(i, i + 20))}`);
      toks.push({ t: 'id', v: m[0] });
      i += m[0].length;
    }
  }
  throw new Error('unterminated literal');
}

function parseValue(toks, k) {
  // type prefixes: []T, [][]T, T before a composite literal
  while (toks[k].t === '[' || (toks[k].t === 'id' && toks[k + 1]?.t === '{') || (toks[k].t === ']' && toks[k - 1]?.t === '[')) k++;
  const tok = toks[k];
  if (tok.t === 'str') return [tok.v, k + 1];
  if (tok.t === 'id') {
    if (tok.v === 'true' || tok.v === 'false') return [tok.v === 'true', k + 1];
    if (tok.v === 'nil') return [null, k + 1];
    if (/^\d+$/.test(tok.v)) return [Number(tok.v), k + 1];
    return [{ ident: tok.v }, k + 1];
  }
  if (tok.t !== '{') throw new Error(`unexpected token ${JSON.stringify(tok)}`);
  k++;
  const list = [];
  let obj = null;
  while (toks[k].t !== '}') {
    if ((toks[k].t === 'id' || toks[k].t === 'str') && toks[k + 1]?.t === ':') {
      obj ??= {};
      const key = toks[k].v;
      const [v, n] = parseValue(toks, k + 2);
      obj[key] = v;
      k = n;
    } else {
      const [v, n] = parseValue(toks, k);
      list.push(v);
      k = n;
    }
    if (toks[k].t === ',') k++;
  }
  return [obj ?? list, k + 1];
}

/** The composite literal that follows `marker` in `src`. */
function literalAfter(src, marker) {
  const at = src.indexOf(marker);
  if (at < 0) throw new Error(`marker not found: ${marker}`);
  const brace = src.indexOf('{', at + marker.length - 1);
  return parseValue(tokenize(src, brace), 0)[0];
}

/** The first string literal after `marker` in `src`. */
function stringAfter(src, marker) {
  const at = src.indexOf(marker);
  if (at < 0) throw new Error(`marker not found: ${marker}`);
  const i = at + marker.length + src.slice(at + marker.length).search(/[`"]/);
  if (src[i] === '`') return src.slice(i + 1, src.indexOf('`', i + 1));
  let j = i + 1;
  while (src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
  return goString(src.slice(i + 1, j));
}

function write(rel, data) {
  const p = join(out, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, typeof data === 'string' || Buffer.isBuffer(data) ? data : `${JSON.stringify(data, null, 2)}\n`);
}

rmSync(out, { recursive: true, force: true });

// ---- moby/patternmatcher ----
const pmRev = head(pmGit);
const pmTest = show(pmGit, pmRev, 'patternmatcher_test.go').toString();
const single = [];
// the one-call tests at the top: Matches("file", []string{...}) then `if !match` (expect a match),
// `if match` (expect none) or `if err == nil` (expect an error)
for (const m of pmTest.matchAll(
  /func (Test\w+)\(t \*testing\.T\) \{\n\t(\w+|_), (\w+|_) :?= Matches\(("[^"]*"), \[\]string\{([^}]*)\}\)\n\tif (err == nil|err != nil|!?\w+)/g,
)) {
  const [, name, , , file, pats, cond] = m;
  const patterns = pats.trim() === '' ? [] : literalAfter(`{${pats}}`, '{');
  const expect = cond === 'err == nil' ? 'error' : cond.startsWith('!') ? true : false;
  single.push({ name, patterns, text: goString(file.slice(1, -1)), expect });
}
write('patternmatcher/patternmatcher.json', {
  source: `github.com/moby/patternmatcher@${pmRev} patternmatcher_test.go`,
  single,
  matches: literalAfter(pmTest, 'tests := []matchesTestCase{').map(([pattern, text, pass]) => ({ pattern, text, pass })),
  matchesNonWindows: literalAfter(pmTest, 'tests = append(tests, []matchesTestCase{').map(([pattern, text, pass]) => ({
    pattern,
    text,
    pass,
  })),
  multiPattern: literalAfter(pmTest, 'multiPatternTests := []multiPatternTestCase{').map(([patterns, text, pass]) => ({
    patterns,
    text,
    pass,
  })),
  filepathMatch: literalAfter(pmTest, 'var matchTests = []matchTest{').map(([pattern, text, match, err]) => ({
    pattern,
    text,
    match,
    error: err !== null,
  })),
  compile: literalAfter(pmTest, 'var compileTests = []compileTestCase{').map(([pattern, kind, regexp]) => ({
    pattern,
    kind: kind.ident.replace(/Match$/, ''),
    regexp,
  })),
  malformedAtMatchTime: [stringAfter(pmTest.slice(pmTest.indexOf('MalformedPatternDoesNotPanic')), 'New([]string{')],
});
const ifTest = show(pmGit, pmRev, 'ignorefile/ignorefile_test.go').toString();
write('patternmatcher/ignorefile.json', {
  source: `github.com/moby/patternmatcher@${pmRev} ignorefile/ignorefile_test.go`,
  content: stringAfter(ifTest, 'const content = '),
  expected: literalAfter(ifTest, 'expected := []string{'),
});
write('patternmatcher/LICENSE', show(pmGit, pmRev, 'LICENSE'));
write('patternmatcher/NOTICE', show(pmGit, pmRev, 'NOTICE'));

// ---- moby/buildkit frontend/dockerfile/parser ----
const bkRev = head(bkGit);
const P = 'frontend/dockerfile/parser';
const files = git(bkGit, 'ls-tree', '-r', '--name-only', bkRev, P).toString().trim().split('\n');
for (const f of files) {
  if (/\/(testfiles|testfiles-negative|testfile-line)\//.test(f)) write(`buildkit-parser/${f.slice(P.length + 1)}`, show(bkGit, bkRev, f));
}
const pTest = show(bkGit, bkRev, `${P}/parser_test.go`).toString();
const lineInfo =
  /require\.Equal\(t, (\d+), ast\.StartLine\)\n\trequire\.Equal\(t, (\d+), ast\.EndLine\)\n\trequire\.Equal\(t, (\d+), len\(ast\.Children\)\)/.exec(
    pTest,
  );
const hTest = show(bkGit, bkRev, `${P}/parser_heredoc_test.go`).toString();
const heredocFn = hTest.slice(hTest.indexOf('func TestParseExtractsHeredoc'));
const jsonFn = hTest.slice(hTest.indexOf('func TestParseJSONHeredoc'));
const helpersFn = hTest.slice(hTest.indexOf('func TestParseHeredocHelpers'));
const fromLineFn = hTest.slice(hTest.indexOf('func TestHeredocsFromLine'));
const chompFn = hTest.slice(hTest.indexOf('func TestHeredocChomp'));
write('buildkit-parser/parser-tests.json', {
  source: `github.com/moby/buildkit@${bkRev} ${P}/parser_test.go, parser_heredoc_test.go`,
  lineInfo: {
    file: 'testfile-line/Dockerfile',
    startLine: Number(lineInfo[1]),
    endLine: Number(lineInfo[2]),
    children: literalAfter(pTest, 'expected := [][]int{'),
  },
  parseWords: literalAfter(pTest, 'tests := []map[string][]string{').map((m) => ({ input: m.input[0], expect: m.expect })),
  emptyContinuation: {
    dockerfile: stringAfter(pTest, 'dockerfile := bytes.NewBufferString('),
    warnings: [...pTest.matchAll(/require\.Contains\(t, warnings\[(\d)\]\.Short, ("[^"]*")\)/g)].map((m) => ({
      index: Number(m[1]),
      contains: goString(m[2].slice(1, -1)),
    })),
    count: Number(/require\.Equal\(t, (\d+), len\(warnings\)\)/.exec(pTest)[1]),
  },
  scannerError: {
    lineBytes: 65536,
    error: goString(/require\.EqualError\(t, err, ("[^"]*")\)/.exec(pTest)[1].slice(1, -1)),
  },
  heredocs: {
    dockerfile: stringAfter(heredocFn, 'dockerfile := bytes.NewBufferString('),
    // one entry per instruction after the first (FROM); null: no heredocs
    expected: literalAfter(heredocFn, 'tests := [][]Heredoc{'),
  },
  jsonHeredocs: { dockerfile: stringAfter(jsonFn, 'dockerfile := bytes.NewBufferString('), children: [1, 2, 3] },
  chomp: {
    content: stringAfter(chompFn, 'content := '),
    expect: stringAfter(chompFn, 'require.Equal(t, '),
  },
  heredocHelpers: {
    valid: literalAfter(helpersFn, 'validHeredocs := []string{'),
    invalid: literalAfter(helpersFn, 'invalidHeredocs := []string{'),
    notHeredocs: literalAfter(helpersFn, 'notHeredocs := []string{'),
  },
  heredocsFromLineCases: literalAfter(fromLineFn.slice(fromLineFn.indexOf('}{') + 1), '{').map((c) => ({
    line: c.line,
    names: c.heredocNames ?? [],
  })),
});
write('buildkit-parser/LICENSE', show(bkGit, bkRev, 'LICENSE'));
if (git(bkGit, 'ls-tree', '--name-only', bkRev).toString().split('\n').includes('NOTICE'))
  write('buildkit-parser/NOTICE', show(bkGit, bkRev, 'NOTICE'));
console.log(`ported patternmatcher@${pmRev.slice(0, 12)} and buildkit@${bkRev.slice(0, 12)} into ${out}`);
