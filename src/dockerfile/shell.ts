/**
 * The pieces of BuildKit's shell lexer (`frontend/dockerfile/shell`) that planning needs: its word
 * splitting (as the parser uses it to find heredocs) and quote removal on one word (as BuildKit
 * does for FROM images). Variables are never expanded: planning does not evaluate ARG/ENV.
 */

export interface RawWord {
  word: string;
  /** Index of the word's first character in the input. */
  start: number;
}

const isSpace = (ch: string): boolean => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f';

/**
 * Splits on unquoted, unescaped whitespace, keeping quotes and escape characters in the words
 * (for the builder command line). An unterminated quote runs to the end of the input.
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

/** An error of BuildKit's shell lexer (unterminated quote, bad `${...}` substitution). */
export class ShellLexError extends Error {}

export interface LexOptions {
  escape: string;
  /** keep quote characters in the words */
  rawQuotes: boolean;
  /** keep escape characters in the words */
  rawEscapes: boolean;
}

const isUnicodeSpace = (ch: string): boolean => /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u.test(ch);
const isLetter = (ch: string): boolean => /^\p{L}$/u.test(ch);
const isDigit = (ch: string): boolean => /^\p{Nd}$/u.test(ch);

/**
 * BuildKit's `shell.Lex.ProcessWords` with no variables set and `SkipUnsetEnv` (so `$x`, `${x}`,
 * `${x:-y}` stay as written, as when the parser looks for heredocs): splits on unquoted, unescaped
 * whitespace, with quotes and escape characters kept or removed as asked. Throws ShellLexError
 * where the lexer fails.
 */
export function processWords(input: string, opts: LexOptions): string[] {
  const chars = Array.from(input);
  let pos = 0;
  const EOF = '';
  const peek = (): string => (pos < chars.length ? chars[pos] : EOF);
  const next = (): string => (pos < chars.length ? chars[pos++] : EOF);
  const { escape, rawQuotes } = opts;
  let rawEscapes = opts.rawEscapes;

  function singleQuote(): string {
    let r = '';
    const open = next();
    if (rawQuotes) r += open;
    for (;;) {
      const ch = next();
      if (ch === EOF) throw new ShellLexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (rawQuotes) r += ch;
        return r;
      }
      r += ch;
    }
  }

  function doubleQuote(): string {
    let r = '';
    const open = next();
    if (rawQuotes) r += open;
    for (;;) {
      const p = peek();
      if (p === EOF) throw new ShellLexError('unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        const ch = next();
        if (rawQuotes) r += ch;
        return r;
      }
      if (p === '$') {
        r += dollar();
        continue;
      }
      let ch = next();
      if (ch === escape) {
        if (rawEscapes) r += ch;
        const q = peek();
        if (q === EOF) continue;
        if (q === '"' || q === '$' || q === escape) ch = next();
      }
      r += ch;
    }
  }

  function name(): string {
    let n = '';
    while (peek() !== EOF) {
      const ch = peek();
      if (n === '' && isDigit(ch)) {
        while (peek() !== EOF && isDigit(peek())) n += next();
        return n;
      }
      if (n === '' && '@*#?-$!0'.includes(ch)) return next();
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      n += next();
    }
    return n;
  }

  function dollar(): string {
    next();
    if (peek() !== '{') {
      const n = name();
      return n === '' ? '$' : `$${n}`;
    }
    next();
    const p = peek();
    if (p === EOF) throw new ShellLexError("syntax error: missing '}'");
    if (p === '{' || p === '}' || p === ':') throw new ShellLexError('syntax error: bad substitution');
    const n = name();
    let ch = next();
    let chs = ch;
    let nullIsUnset = false;
    switch (ch) {
      case '}':
        return `\${${n}}`;
      case ':':
        nullIsUnset = true;
        ch = next();
        chs += ch;
      // falls through
      case '+':
      case '-':
      case '?':
      case '#':
      case '%': {
        const raw = ch === '#' || ch === '%';
        if (nullIsUnset && raw) throw new ShellLexError(`unsupported modifier (${chs}) in substitution`);
        let word: string;
        try {
          word = stopOn('}', raw).result;
        } catch (e) {
          if (peek() === EOF) throw new ShellLexError("syntax error: missing '}'");
          throw e;
        }
        return `\${${n}${chs}${word}}`;
      }
      case '/': {
        if (peek() === '/') next(); // `${x//a/b}`: kept as `${x/a/b}`, as BuildKit prints an unset one
        let pattern: string;
        let replacement: string;
        try {
          pattern = stopOn('/', true).result;
        } catch (e) {
          if (peek() === EOF) throw new ShellLexError("syntax error: missing '/' in ${}");
          throw e;
        }
        try {
          replacement = stopOn('}', true).result;
        } catch (e) {
          if (peek() === EOF) throw new ShellLexError("syntax error: missing '}'");
          throw e;
        }
        return `\${${n}/${pattern}/${replacement}}`;
      }
      default:
        throw new ShellLexError(`unsupported modifier (${chs}) in substitution`);
    }
  }

  function possibleHeredoc(): string {
    next();
    if (peek() !== '<') return '<';
    next();
    let space = '';
    while (peek() === '\t' || peek() === '\r' || peek() === ' ') space += next();
    return `<<${space}`;
  }

  function stopOn(stop: string, raw: boolean): { result: string; words: string[] } {
    let result = '';
    const words: string[] = [];
    let buf = '';
    let inWord = false;
    const addRawChar = (ch: string): void => {
      buf += ch;
      inWord = true;
    };
    const addChar = (ch: string): void => {
      if (isUnicodeSpace(ch)) {
        if (inWord && buf !== '') {
          words.push(buf);
          buf = '';
          inWord = false;
        }
      } else addRawChar(ch);
    };
    const saved = rawEscapes;
    rawEscapes = raw;
    try {
      while (peek() !== EOF) {
        const ch = peek();
        if (stop !== EOF && ch === stop) {
          next();
          if (buf !== '') words.push(buf);
          return { result, words };
        }
        const special =
          ch === '$' ? dollar : ch === '<' ? possibleHeredoc : ch === "'" ? singleQuote : ch === '"' ? doubleQuote : undefined;
        if (special) {
          const tmp = special();
          result += tmp;
          if (ch === '$') for (const c of Array.from(tmp)) addChar(c);
          else {
            buf += tmp;
            inWord = true;
          }
          continue;
        }
        let c = next();
        if (c === escape) {
          if (rawEscapes) {
            addRawChar(c);
            result += c;
          }
          c = next();
          if (c === EOF) break;
          addRawChar(c);
        } else addChar(c);
        result += c;
      }
      if (stop !== EOF) throw new ShellLexError(`unexpected end of statement while looking for matching ${stop}`);
      if (buf !== '') words.push(buf);
      return { result, words };
    } finally {
      rawEscapes = saved;
    }
  }

  return stopOn(EOF, rawEscapes).words;
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
