import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { createIgnoreMatcher, goClean, loadDockerignore } from '../../../src/context/dockerignore.js';
import { ActionError } from '../../../src/errors.js';

const require = createRequire(import.meta.url);
interface BalenaIgnore {
  add(p: string | string[]): BalenaIgnore;
  ignores(p: string): boolean;
}
const balena = require('@balena/dockerignore') as (opts?: { ignorecase?: boolean }) => BalenaIgnore;

function ig(patterns: string[]) {
  return createIgnoreMatcher(patterns);
}

function check(patterns: string[], cases: Record<string, boolean>): void {
  const m = ig(patterns);
  for (const [p, want] of Object.entries(cases)) {
    assert.equal(m.ignores(p, false), want, `${JSON.stringify(patterns)} vs ${p}: expected ${want ? 'ignored' : 'kept'}`);
  }
}

test('Docker docs example rules: */temp*, */*/temp*, temp?', () => {
  check(['# comment', '*/temp*', '*/*/temp*', 'temp?'], {
    'somedir/temporary.txt': true,
    'somedir/temp': true,
    'somedir/temp/inner.txt': true, // a parent directory matched
    'somedir/subdir/temporary.txt': true,
    tempa: true,
    tempb: true,
    temp: false,
    tempab: false,
    'temporary.txt': false, // */temp* needs one directory level
    'a/b/c/temp.txt': false,
    '# comment': false,
  });
});

test('patterns are anchored at the context root; **/ matches at any depth', () => {
  check(['*.log'], { 'app.log': true, 'nested/trace.log': false, 'a/b/c.log': false });
  check(['**/*.log'], { 'app.log': true, 'nested/trace.log': true, 'a/b/c.log': true, 'a/b/c.txt': false });
  check(['**/*.go'], { 'main.go': true, 'x/y/z.go': true });
  check(['foo/bar'], { 'foo/bar': true, 'foo/bar/baz': true, 'x/foo/bar': false, foo: false });
});

test('leading / and ./ are stripped; paths are cleaned like filepath.Clean', () => {
  for (const p of ['/foo/bar', './foo/bar', 'foo//bar', 'foo/./bar', 'foo/x/../bar', ' foo/bar ']) {
    check([p], { 'foo/bar': true, 'foo/bar/baz.txt': true, 'foo/baz': false });
  }
  assert.deepEqual(ig(['./a', '/b/', '!./c/', 'd/../e', '  ! f  ']).patterns, ['a', 'b', '!c', 'e', '!f']);
  assert.equal(goClean('a//b/./c/..'), 'a/b');
  assert.equal(goClean('/../x'), '/x');
  assert.equal(goClean('../x'), '../x');
  assert.equal(goClean(''), '.');
});

test('a trailing slash changes nothing: the directory and a file of that name are both excluded', () => {
  check(['secrets/'], { secrets: true, 'secrets/key.pem': true, 'secrets.txt': false, 'a/secrets': false });
});

test('comments: only # in column 1; a BOM on the first line is dropped; CRLF lines work', () => {
  check(['#*.txt', ' #x'], { 'a.txt': false, '#x': true, ' #x': false });
  check(['\uFEFFa.txt\r', 'b.txt\r'], { 'a.txt': true, 'b.txt': true });
});

test('exceptions: *.md + !README.md', () => {
  check(['*.md', '!README.md'], { 'a.md': true, 'README.md': false, 'docs/a.md': false });
});

test('Docker docs: *.md, !README*.md, README-secret.md → no markdown except README files other than README-secret.md', () => {
  check(['*.md', '!README*.md', 'README-secret.md'], {
    'CHANGES.md': true,
    'README.md': false,
    'README-dev.md': false,
    'README-secret.md': true,
  });
});

test('Docker docs: *.md, README-secret.md, !README*.md → all README files included (last match wins)', () => {
  check(['*.md', 'README-secret.md', '!README*.md'], {
    'CHANGES.md': true,
    'README.md': false,
    'README-secret.md': false,
  });
});

test('re-inclusion below an excluded directory', () => {
  const m = ig(['cache', '!cache/keep.txt']);
  assert.equal(m.ignores('cache', true), true);
  assert.equal(m.ignores('cache/drop.txt', false), true);
  assert.equal(m.ignores('cache/keep.txt', false), false);
  assert.equal(m.mayReinclude('cache'), true);
  // an exception before the exclusion loses
  check(['!cache/keep.txt', 'cache'], { 'cache/keep.txt': true });
  // everything but some paths
  check(['*', '!src', '!Dockerfile'], { 'README.md': true, 'src/main.py': false, Dockerfile: false, '.git/config': true });
  check(['**/node_modules', '!app/node_modules/keep'], {
    'node_modules/x': true,
    'lib/node_modules/y': true,
    'app/node_modules/keep': false,
    'app/node_modules/keep/inner.js': false,
    'app/node_modules/other': true,
  });
});

test('mayReinclude: prune only when no ! rule can match something below the directory', () => {
  const none = ig(['cache', 'build']);
  assert.equal(none.mayReinclude('cache'), false);
  const one = ig(['cache', 'build', '!cache/keep.txt']);
  assert.equal(one.mayReinclude('cache'), true);
  assert.equal(one.mayReinclude('build'), false);
  assert.equal(one.mayReinclude('cache/sub'), false);
  // an exception that only names the directory itself (or a parent) cannot re-include its contents
  assert.equal(ig(['!cache', 'cache']).mayReinclude('cache'), false);
  assert.equal(ig(['x', '!x/y/z']).mayReinclude('x/y'), true);
  assert.equal(ig(['x', '!x/*/z']).mayReinclude('x/q'), true);
  assert.equal(ig(['x', '!x/a*/z']).mayReinclude('x/b'), false);
  // ** anywhere, escapes and negated classes are not analysed: never pruned
  assert.equal(ig(['x', '!**/keep']).mayReinclude('x/deep/er'), true);
  assert.equal(ig(['x', '!x\\*/k']).mayReinclude('x/y'), true);
  assert.equal(ig(['x', '![^a]/k']).mayReinclude('x'), true);
});

test('case-sensitive, like Docker on Linux', () => {
  check(['README.md'], { 'README.md': true, 'readme.md': false, 'Readme.md': false });
  check(['*.JPG'], { 'a.JPG': true, 'a.jpg': false });
});

test('characters that are literal in filepath.Match but special in regexes match literally', () => {
  check(['pkg-1.0+local-py3-none-any.whl'], {
    'pkg-1.0+local-py3-none-any.whl': true,
    'pkg-1.0local-py3-none-any.whl': false,
    'pkg-1.00local-py3-none-any.whl': false,
  });
  check(['dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl'], { 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl': true });
  check(['dist/*.whl'], { 'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl': true });
  check(['a(b)c/def'], { 'a(b)c/def': true, 'a(b)c/xyz': false, 'abc/def': false });
  check(['a(b'], { 'a(b': true });
  check(['x$y', 'cost$'], { x$y: true, xy: false, cost$: true, cost: false });
  check(['a|b'], { 'a|b': true, a: false, b: false });
  check(['a{2}'], { 'a{2}': true, aa: false });
  check(['a.|)$(}+{bc'], { 'a.|)$(}+{bc': true });
  check(['x^y'], { 'x^y': true });
  check(['abc.def'], { 'abc.def': true, abcdef: false, abcZdef: false });
});

test('globs: ?, classes, escapes (moby patternmatcher vectors)', () => {
  const vectors: Array<[string, string, boolean]> = [
    ['**', 'file', true],
    ['**', 'dir/file', true],
    ['**/', 'dir/file', true],
    ['**/**', 'dir/file', true],
    ['dir/**', 'dir/file', true],
    ['dir/**', 'dir/dir2/file', true],
    ['**/dir', 'dir', true],
    ['**/dir', 'dir/file', true],
    ['**/dir2/*', 'dir/dir2/file', true],
    ['**/dir2/**', 'dir/dir2/dir3/file', true],
    ['**file', 'file', true],
    ['**file', 'dir/file', true],
    ['**/file', 'dir/file', true],
    ['**file', 'dir/dir/file', true],
    ['**/file*', 'dir/dir/file.txt', true],
    ['**/file*txt', 'dir/dir/file.txt', true],
    ['**/file*.txt*', 'dir/dir/file.txt', true],
    ['**/**/*.txt', 'dir/dir/file.txt', true],
    ['**/**/*.txt2', 'dir/dir/file.txt', false],
    ['**/*.txt', 'file.txt', true],
    ['**/**/*.txt', 'file.txt', true],
    ['a**/*.txt', 'a/file.txt', true],
    ['a**/*.txt', 'a/dir/file.txt', true],
    ['a**/*.txt', 'a/dir/dir/file.txt', true],
    ['a/*.txt', 'a/dir/file.txt', false],
    ['a/*.txt', 'a/file.txt', true],
    ['a/*.txt**', 'a/file.txt', true],
    ['a[b-d]e', 'ae', false],
    ['a[b-d]e', 'ace', true],
    ['a[b-d]e', 'aae', false],
    ['a[^b-d]e', 'aze', true],
    ['.*', '.foo', true],
    ['.*', 'foo', false],
    ['abc?def', 'abcZdef', true],
    ['abc?def', 'abcdef', false],
    ['a\\\\', 'a\\', true],
    ['\\*lit', '*lit', true],
    ['\\*lit', 'xlit', false],
    ['**/foo/bar', 'foo/bar', true],
    ['**/foo/bar', 'dir/foo/bar', true],
    ['**/foo/bar', 'dir/dir2/foo/bar', true],
    ['abc/**', 'abc', false],
    ['abc/**', 'abc/def', true],
    ['abc/**', 'abc/def/ghi', true],
    ['**/.foo', '.foo', true],
    ['**/.foo', 'bar.foo', false],
    ['?', 'é', true], // one rune, not one UTF-16 unit or byte
    ['?', '😀', true],
  ];
  for (const [pattern, p, want] of vectors) {
    assert.equal(ig([pattern]).ignores(p, false), want, `${pattern} vs ${p}`);
  }
});

test('invalid patterns are errors, as in Docker (named with file and line)', () => {
  for (const bad of ['!', '[abc', '[]', 'a[]b', '[-a]', '[a-]', 'a\\', '[\\', '[z-a]x', '[Local-Only]', '!*.[z-a]']) {
    assert.throws(
      () => createIgnoreMatcher(['ok', bad], '/ctx/.dockerignore'),
      (e: unknown) => e instanceof ActionError && e.kind === 'context' && /\/ctx\/\.dockerignore line 2/.test(e.message),
      bad,
    );
  }
  // valid oddities
  for (const ok of ['[!a]', '[\\]]', '[[]', 'a]b', '{', '}']) assert.doesNotThrow(() => createIgnoreMatcher([ok]), ok);
  check(['a]b'], { 'a]b': true });
});

test('a leading ** without a following / is a suffix match at any depth (moby), so keys and env files stay out', () => {
  check(['**.pem'], { 'a.pem': true, 'deep/dir/b.pem': true, '.pem': true, 'a.pem.bak': false, 'keys.pem/inner.txt': true, 'a.pe': false });
  check(['**.env'], { '.env': true, 'prod.env': true, 'app/config/.env': true, 'app/.envrc': false });
  check(['**node_modules'], { node_modules: true, 'web/node_modules/x/index.js': true, my_node_modules: true, 'node_modules2/x': false });
  check(['**.pyc', '!keep/**'], { 'a/b.pyc': true, 'keep/c.pyc': false });
  // with another wildcard it is a regular expression again, where `**` only spans whole directories
  check(['**.p?m'], { '.pem': true, 'a/.pem': true, 'a.pem': false });
  // a trailing ** after literals is a prefix
  check(['logs**'], { logs: true, logs2: true, 'logs/a': true, 'x/logs': false });
  // an exception of the suffix kind is never pruned away below an excluded directory
  const m = ig(['secrets', '!**.pub']);
  assert.equal(m.mayReinclude('secrets'), true);
  assert.equal(m.ignores('secrets/id.pub', false), false);
  assert.equal(m.ignores('secrets/id', false), true);
});

test('a reversed class range is refused the way docker build refuses it, naming the line', () => {
  for (const bad of ['[z-a]', '[Local-Only]']) {
    assert.throws(
      () => createIgnoreMatcher(['# keep', 'node_modules', bad], '/ctx/.dockerignore'),
      (e: unknown) =>
        e instanceof ActionError &&
        e.kind === 'context' &&
        e.message.includes(`/ctx/.dockerignore line 3: "${bad}"`) &&
        /reversed range/.test(e.message),
      bad,
    );
  }
});

test('paths named like Object.prototype members are matched (the @balena/dockerignore cache bug)', () => {
  check(['*'], { constructor: true, toString: true, __proto__: true, hasOwnProperty: true });
  const b = balena({ ignorecase: false }).add(['*']);
  assert.equal(b.ignores('constructor'), false, '@balena/dockerignore 1.0.2 keeps it: if this now passes, the library was fixed');
});

test('what @balena/dockerignore gets wrong, pinned (why this module replaces its matcher)', () => {
  const b = (pats: string[]) => balena({ ignorecase: false }).add(pats);
  assert.equal(b(['pkg-1.0+local-py3-none-any.whl']).ignores('pkg-1.0+local-py3-none-any.whl'), false);
  assert.equal(b(['a|b']).ignores('a'), true);
  assert.equal(b(['a{2}']).ignores('aa'), true);
  assert.throws(() => b(['a(b']).ignores('a(b'), SyntaxError);
  assert.equal(b(['!']).ignores('x'), false); // silently dropped instead of an error
  assert.equal(balena().add(['README.md']).ignores('readme.md'), true); // case-insensitive by default
});

test('agrees with @balena/dockerignore (ignorecase: false) on random patterns over its correct subset', () => {
  // deterministic PRNG
  let seed = 42;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const atoms = ['a', 'b', 'c', '.', '*', '?', '**', '/', 'ab', '.x'];
  const names = ['a', 'b', 'c', 'ab', 'a.x', 'b.x', '.x', 'abc'];
  const paths: string[] = [];
  for (let i = 0; i < 200; i++) {
    const depth = 1 + rnd(4);
    const parts: string[] = [];
    for (let d = 0; d < depth; d++) parts.push(names[rnd(names.length)]);
    paths.push(parts.join('/'));
  }
  let compared = 0;
  for (let i = 0; i < 300; i++) {
    const pats: string[] = [];
    const count = 1 + rnd(3);
    for (let k = 0; k < count; k++) {
      let p = rnd(4) === 0 ? '!' : '';
      const len = 1 + rnd(5);
      for (let j = 0; j < len; j++) p += atoms[rnd(atoms.length)];
      pats.push(p);
    }
    // a leading ** without a following / is a suffix match in moby and a regex in the library
    if (pats.some((p) => /^!?\*\*(?!\/)/.test(p))) continue;
    let ours;
    try {
      ours = createIgnoreMatcher(pats);
    } catch {
      continue;
    }
    const theirs = balena({ ignorecase: false }).add(pats);
    for (const p of paths) {
      assert.equal(ours.ignores(p, false), theirs.ignores(p), `${JSON.stringify(pats)} vs ${p}`);
      compared++;
    }
  }
  assert.ok(compared > 10000);
});

async function tmp(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'ctx-ignore-'));
}

test('loadDockerignore: <context>/.dockerignore, or none', async () => {
  const dir = await tmp();
  try {
    const none = await loadDockerignore(dir);
    assert.equal(none.source, undefined);
    assert.deepEqual(none.patterns, []);
    assert.equal(none.ignores('x', false), false);
    await fsp.writeFile(path.join(dir, '.dockerignore'), '# c\n*.log\n\n!keep.log\n');
    const m = await loadDockerignore(dir);
    assert.equal(m.source, path.join(dir, '.dockerignore'));
    assert.deepEqual(m.patterns, ['*.log', '!keep.log']);
    assert.equal(m.ignores('a.log', false), true);
    assert.equal(m.ignores('keep.log', false), false);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('loadDockerignore: <Dockerfile>.dockerignore next to the Dockerfile takes precedence (BuildKit)', async () => {
  const dir = await tmp();
  try {
    await fsp.mkdir(path.join(dir, 'app'));
    await fsp.writeFile(path.join(dir, '.dockerignore'), 'root-rule\n');
    await fsp.writeFile(path.join(dir, 'app', 'Dockerfile'), 'FROM scratch\n');
    await fsp.writeFile(path.join(dir, 'app', 'Dockerfile.dockerignore'), 'specific-rule\n');
    const m = await loadDockerignore(dir, path.join(dir, 'app', 'Dockerfile'));
    assert.equal(m.source, path.join(dir, 'app', 'Dockerfile.dockerignore'));
    assert.equal(m.ignores('specific-rule', false), true);
    assert.equal(m.ignores('root-rule', false), false, 'the context .dockerignore is not merged in');
    // another Dockerfile name without its own file falls back to the context's
    const other = await loadDockerignore(dir, path.join(dir, 'app', 'prod.Dockerfile'));
    assert.equal(other.source, path.join(dir, '.dockerignore'));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('loadDockerignore: an ignore file that is a directory, or has a bad pattern, is a clear error', async () => {
  const dir = await tmp();
  try {
    await fsp.mkdir(path.join(dir, '.dockerignore'));
    await assert.rejects(
      loadDockerignore(dir),
      (e: unknown) => e instanceof ActionError && e.kind === 'context' && /directory/.test(e.message),
    );
    await fsp.rmdir(path.join(dir, '.dockerignore'));
    await fsp.writeFile(path.join(dir, '.dockerignore'), 'ok\n[broken\n');
    await assert.rejects(loadDockerignore(dir), /Invalid \.dockerignore pattern in .*\.dockerignore line 2: "\[broken"/);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
