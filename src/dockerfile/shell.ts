/**
 * The two pieces of BuildKit's shell lexer (`frontend/dockerfile/shell`) that planning needs:
 * splitting a line into raw words (quotes and escapes kept, as BuildKit does when it looks for
 * heredocs) and removing quotes from one word (as BuildKit does for FROM images and flag values).
 * Variables are never expanded: planning does not evaluate ARG/ENV.
 */

export interface RawWord {
  word: string;
  /** Index of the word's first character in the input. */
  start: number;
}

const isSpace = (ch: string): boolean => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f';

/**
 * Splits on unquoted, unescaped whitespace, keeping quotes and escape characters in the words
 * (BuildKit's `ProcessWords` with `RawQuotes` and `RawEscapes`). An unterminated quote runs to the
 * end of the input.
 */
export function splitRawWords(s: string, escape: string): RawWord[] {
  const words: RawWord[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && isSpace(s[i])) i++;
    if (i >= s.length) break;
    const start = i;
    while (i < s.length && !isSpace(s[i])) {
      const ch = s[i];
      if (ch === escape) {
        i += 2;
      } else if (ch === "'") {
        const end = s.indexOf("'", i + 1);
        i = end < 0 ? s.length : end + 1;
      } else if (ch === '"') {
        i++;
        while (i < s.length && s[i] !== '"') i += s[i] === escape ? 2 : 1;
        i++;
      } else {
        i++;
      }
    }
    i = Math.min(i, s.length);
    words.push({ word: s.slice(start, i), start });
  }
  return words;
}

/**
 * Removes shell quoting from one word the way BuildKit's lexer does: single quotes are literal,
 * inside double quotes the escape character only escapes `"`, `$` and itself, outside quotes it
 * escapes any character. Returns `null` when a quote is not closed.
 */
export function unquoteWord(s: string, escape: string): string | null {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (ch === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) return null;
      out += s.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      i++;
      let closed = false;
      while (i < s.length) {
        const c = s[i];
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        if (c === escape && i + 1 < s.length && (s[i + 1] === '"' || s[i + 1] === '$' || s[i + 1] === escape)) {
          out += s[i + 1];
          i += 2;
          continue;
        }
        out += c;
        i++;
      }
      if (!closed) return null;
    } else if (ch === escape && i + 1 < s.length) {
      out += s[i + 1];
      i += 2;
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

/**
 * Splits one CSV record the way Go's `encoding/csv` reads BuildKit's `--mount` values:
 * comma-separated fields, a field that starts with `"` is quoted and `""` inside it is a quote.
 */
export function splitCsvFields(s: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length) break;
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += s[i++];
      }
      // Anything between the closing quote and the next comma is kept, as Go's LazyQuotes would.
      while (i < s.length && s[i] !== ',') field += s[i++];
    } else {
      while (i < s.length && s[i] !== ',') field += s[i++];
    }
    fields.push(field);
    if (i >= s.length) break;
    i++; // the comma
  }
  return fields;
}
