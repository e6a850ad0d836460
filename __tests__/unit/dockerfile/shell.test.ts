import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { splitCsvFields, splitRawWords, unquoteWord } from '../../../src/dockerfile/shell.js';

test('splitRawWords keeps quotes and escapes, splits on unquoted blanks', () => {
  assert.deepEqual(
    splitRawWords(`echo "a <<EOF b" 'c d' e\\ f  <<EOF`, '\\').map((w) => [w.word, w.start]),
    [
      ['echo', 0],
      ['"a <<EOF b"', 5],
      ["'c d'", 17],
      ['e\\ f', 23],
      ['<<EOF', 29],
    ],
  );
  assert.deepEqual(splitRawWords('  ', '\\'), []);
  assert.deepEqual(
    splitRawWords('"open quote', '\\').map((w) => w.word),
    ['"open quote'],
  );
});

test('unquoteWord follows the shell lexer; unbalanced quotes → null', () => {
  assert.equal(unquoteWord('"ubuntu:24.04"', '\\'), 'ubuntu:24.04');
  assert.equal(unquoteWord("'a\\b'", '\\'), 'a\\b');
  assert.equal(unquoteWord('"a\\"b\\c"', '\\'), 'a"b\\c');
  assert.equal(unquoteWord('a\\ b', '\\'), 'a b');
  assert.equal(unquoteWord('"a`"b"', '`'), 'a"b');
  assert.equal(unquoteWord('"ubuntu', '\\'), null);
  assert.equal(unquoteWord("'x", '\\'), null);
});

test('splitCsvFields reads a --mount value like encoding/csv', () => {
  assert.deepEqual(splitCsvFields('type=cache,from=img,target=/x'), ['type=cache', 'from=img', 'target=/x']);
  assert.deepEqual(splitCsvFields('type=bind,"from=a,b",target=/y'), ['type=bind', 'from=a,b', 'target=/y']);
  assert.deepEqual(splitCsvFields('"say ""hi""",x'), ['say "hi"', 'x']);
  assert.deepEqual(splitCsvFields(''), ['']);
  assert.deepEqual(splitCsvFields('a,'), ['a', '']);
});
