/**
 * Dockerfile parsing as Docker does it: a port of BuildKit's parser (moby/buildkit
 * `frontend/dockerfile/parser`: `Parse`, the line parsers, `splitCommand`/`extractBuilderFlags`,
 * the directive parser and the heredoc detection), checked against BuildKit's own test files
 * (`__tests__/data/upstream/buildkit-parser`). A port rather than a general Dockerfile library
 * because the action promises `docker build`'s reading of a file: where instructions start and
 * end, which `<<` starts a heredoc, what a flag is, and which files BuildKit refuses.
 *
 * What BuildKit's parser refuses is refused here, as `ActionError` (kind `plan`, message
 * `line <n>: …`): a repeated or invalid parser directive, a line over 64 KiB, an unterminated
 * heredoc, ENV/LABEL without a value or `=`, exec-form JSON arrays with non-string items, a file
 * without instructions. Instruction-level checks (unknown instruction, FROM syntax, ...) are the
 * planner's. Departures: see `__tests__/data/upstream/README.md`.
 *
 * Over 350 lines on purpose: a port of one upstream parser, kept whole to compare with it.
 */
import { ActionError } from '../errors.js';
import { processWords, ShellLexError } from './shell.js';

export type EscapeChar = '\\' | '`';

export interface DockerFlag {
  /** Flag name without the leading `--`, as written. */
  name: string;
  /** Value with BuildKit's quote removal applied; `null` when the flag was written without `=`. */
  value: string | null;
  /** The flag word after BuildKit's quote removal (`--from=x`). */
  raw: string | null;
}

export interface Heredoc {
  name: string;
  fileDescriptor: number;
  expand: boolean;
  chomp: boolean;
  content: string;
}

/** BuildKit's parse-tree node (`parser.Node`), for what the dump and the heredoc tests compare. */
export interface DockerNode {
  value: string;
  next: DockerNode | null;
  children: DockerNode[];
  heredocs: Heredoc[];
  json: boolean;
  original: string;
  flags: string[];
  startLine: number;
  endLine: number;
}

export interface DockerInstruction {
  /** 1-based first line. */
  line: number;
  /** 1-based last line (heredoc bodies and continuation lines included). */
  endLine: number;
  /** Upper-cased keyword. */
  keyword: string;
  /** Keyword as written. */
  written: string;
  /** Leading `--flags` (RUN, COPY, ADD, FROM, ...); `--` ends them. */
  flags: DockerFlag[];
  /** The instruction's arguments as BuildKit splits them (FROM: whitespace-separated words as written). */
  args: string[];
  /** ONBUILD only: the trigger keyword as written, or null. */
  trigger: string | null;
  /** The logical line (continuations joined, comments removed), as BuildKit keeps it in `Original`. */
  original: string;
  heredocs: Heredoc[];
  node: DockerNode;
}

export interface ParsedDockerfile {
  escape: EscapeChar;
  instructions: DockerInstruction[];
  /** BuildKit's parser warnings (empty continuation lines). */
  warnings: Array<{ line: number; message: string }>;
}

/** bufio.Scanner's default limit: a line must fit in 64 KiB with its newline. */
export const MAX_LINE_BYTES = 64 * 1024;

class ParseError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

const planError = (line: number, msg: string): ActionError => new ActionError(`line ${line}: ${msg}`, { kind: 'plan' });

const RE_WHITESPACE = /[\t\v\f\r ]+/;
const RE_HEREDOC = /^([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)$/;
const RE_DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/s;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const HEREDOC_DIRECTIVES = new Set(['add', 'copy', 'run']);
const GO_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const RE_LEADING_SPACE = new RegExp(`^[${GO_SPACE}]+`, 'u');
const RE_TRAILING_SPACE = new RegExp(`[${GO_SPACE}]+$`, 'u');
const isSpace = (ch: string): boolean => ch !== '' && new RegExp(`^[${GO_SPACE}]$`, 'u').test(ch);

const trimLeft = (s: string): string => s.replace(RE_LEADING_SPACE, '');
const trimSpace = (s: string): string => trimLeft(s).replace(RE_TRAILING_SPACE, '');
const trimNewline = (s: string): string => s.replace(/[\r\n]+$/, '');
const isComment = (line: string): boolean => trimLeft(line).startsWith('#');
const isEmptyContinuationLine = (line: string): boolean => trimLeft(trimNewline(line)) === '';

/** Go's `regexp.Split(s, n)` for the whitespace expression. */
function splitWhitespace(s: string, n: number): string[] {
  if (s === '') return [''];
  const out: string[] = [];
  let rest = s;
  while (n < 0 || out.length < n - 1) {
    const m = RE_WHITESPACE.exec(rest);
    if (!m) break;
    out.push(rest.slice(0, m.index));
    rest = rest.slice(m.index + m[0].length);
  }
  out.push(rest);
  return out;
}

function newNode(value = ''): DockerNode {
  return { value, next: null, children: [], heredocs: [], json: false, original: '', flags: [], startLine: 0, endLine: 0 };
}

class Directives {
  escape: EscapeChar = '\\';
  private continuation = Directives.continuationRegex('\\');
  private seen = new Set<string>();
  private done = false;

  private static continuationRegex(esc: string): RegExp {
    const e = esc === '\\' ? '\\\\' : esc;
    return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`, 's');
  }

  /** `possibleParserDirective`: returns whether the line was a directive. */
  parseLine(line: string): boolean {
    if (this.done) return false;
    if (!line.startsWith('#')) {
      this.done = true;
      return false;
    }
    const m = RE_DIRECTIVE.exec(trimLeft(line.slice(1)));
    if (!m) {
      this.done = true;
      return false;
    }
    const key = m[1].toLowerCase();
    if (!KNOWN_DIRECTIVES.has(key)) {
      this.done = true;
      return false;
    }
    if (this.seen.has(key)) throw new Error(`only one ${key} parser directive can be used`);
    this.seen.add(key);
    if (key === 'escape') {
      const v = m[2];
      if (v !== '`' && v !== '\\') throw new Error(`invalid escape token '${v}' does not match \` or \\`);
      this.escape = v;
      this.continuation = Directives.continuationRegex(v);
    }
    return true;
  }

  /** `trimContinuationCharacter`: the line without its continuation, and whether the line ends there. */
  trimContinuation(line: string): [string, boolean] {
    if (this.continuation.test(line)) return [line.replace(this.continuation, '$1'), false];
    return [line, true];
  }
}

// ---- line parsers (line_parsers.go) ----

const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

interface Parsed {
  next: DockerNode | null;
  json?: boolean;
}

/** BuildKit's `parseWords`: words with quotes kept (ENV, LABEL, ARG). */
export function parseWords(rest: string, d: { escape: string }): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOK = false;
  let buf = '';
  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = pos < chars.length ? chars[pos] : '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (isSpace(ch)) continue;
      phase = 'word';
    }
    if (pos === chars.length) {
      if (blankOK || buf.length > 0) words.push(buf);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (blankOK || buf.length > 0) words.push(buf);
        buf = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === d.escape) {
        if (pos + 1 === chars.length) continue;
        buf += ch;
        ch = chars[++pos];
      }
      buf += ch;
      continue;
    }
    // in a quote
    if (ch === quote) phase = 'word';
    if (ch === d.escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      buf += ch;
      ch = chars[++pos];
    }
    buf += ch;
  }
  return words;
}

function keyValueNode(key: string, value: string, sep: string): DockerNode {
  const n = newNode(key);
  n.next = newNode(value);
  n.next.next = newNode(sep);
  return n;
}

function parseNameVal(rest: string, key: string, d: Directives): Parsed {
  const words = parseWords(rest, d);
  if (words.length === 0) return { next: null };
  if (!words[0].includes('=')) {
    const parts = splitWhitespace(rest, 2);
    if (parts.length < 2) throw new Error(`${key} must have two arguments`);
    return { next: keyValueNode(parts[0], parts[1], '') };
  }
  let root: DockerNode | null = null;
  let prev: DockerNode | null = null;
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) throw new Error(`Syntax error - can't find = in ${goQuote(word)}. Must be of the form: name=value`);
    const node = keyValueNode(word.slice(0, eq), word.slice(eq + 1), '=');
    root ??= node;
    if (prev) prev.next = node;
    prev = node.next!.next;
  }
  return { next: root };
}

function chain(values: string[]): DockerNode | null {
  let root: DockerNode | null = null;
  let prev: DockerNode | null = null;
  for (const v of values) {
    const n = newNode(v);
    if (prev) prev.next = n;
    else root = n;
    prev = n;
  }
  return root;
}

const parseIgnore = (): Parsed => ({ next: newNode() });
const parseNameOrNameVal = (rest: string, d: Directives): Parsed => ({ next: chain(parseWords(rest, d)) });
const parseStringsWhitespaceDelimited = (rest: string): Parsed => ({ next: rest === '' ? null : chain(splitWhitespace(rest, -1)) });
const parseString = (rest: string): Parsed => ({ next: rest === '' ? null : newNode(rest) });

/** `parseJSON`: null when the text is not a JSON array (then it is shell form); throws on non-string items. */
function parseJSON(rest: string): Parsed | null {
  const text = trimLeft(rest);
  if (!text.startsWith('[')) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed)) return null;
  if (!parsed.every((x): x is string => typeof x === 'string')) throw new Error(NOT_STRING_ARRAY);
  return { next: chain(parsed), json: true };
}

function parseMaybeJSON(rest: string): Parsed {
  if (rest === '') return { next: null };
  return parseJSON(rest) ?? { next: newNode(rest) };
}

function parseMaybeJSONToList(rest: string): Parsed {
  return parseJSON(rest) ?? parseStringsWhitespaceDelimited(rest);
}

function parseHealthConfig(rest: string): Parsed {
  let sep = 0;
  while (sep < rest.length && !isSpace(rest[sep])) sep++;
  let next = sep;
  while (next < rest.length && isSpace(rest[next])) next++;
  if (sep === 0) return { next: null };
  const cmd = parseMaybeJSON(rest.slice(next));
  const n = newNode(rest.slice(0, sep));
  n.next = cmd.next;
  return { next: n, json: cmd.json };
}

function parseSubCommand(rest: string, d: Directives): Parsed {
  if (rest === '') return { next: null };
  const holder = newNode();
  holder.children = [nodeFromLine(rest, d)];
  return { next: holder };
}

const DISPATCH: Record<string, (rest: string, d: Directives) => Parsed> = {
  add: parseMaybeJSONToList,
  arg: parseNameOrNameVal,
  cmd: parseMaybeJSON,
  copy: parseMaybeJSONToList,
  entrypoint: parseMaybeJSON,
  env: (rest, d) => parseNameVal(rest, 'ENV', d),
  expose: parseStringsWhitespaceDelimited,
  from: parseStringsWhitespaceDelimited,
  healthcheck: parseHealthConfig,
  label: (rest, d) => parseNameVal(rest, 'LABEL', d),
  maintainer: parseString,
  onbuild: parseSubCommand,
  run: parseMaybeJSON,
  shell: parseMaybeJSON,
  stopsignal: parseString,
  user: parseString,
  volume: parseMaybeJSONToList,
  workdir: parseString,
};

// ---- split_command.go ----

/** `extractBuilderFlags`: the leading `--flag` words (quotes removed) and the rest of the line. */
function extractBuilderFlags(line: string, d: Directives): [string, string[]] {
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let buf = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    let ch = pos < line.length ? line[pos] : '';
    if (phase === 'spaces') {
      if (pos === line.length) break;
      if (isSpace(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return [line.slice(pos), words];
      phase = 'word';
    }
    if (pos === line.length) {
      if (buf !== '--' && (blankOK || buf.length > 0)) words.push(buf);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (buf === '--') return [line.slice(pos), words];
        if (blankOK || buf.length > 0) words.push(buf);
        buf = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      if (ch === d.escape) {
        if (pos + 1 === line.length) continue;
        ch = line[++pos];
      }
      buf += ch;
      continue;
    }
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === d.escape) {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      ch = line[++pos];
    }
    buf += ch;
  }
  return ['', words];
}

function splitCommand(line: string, d: Directives): { cmd: string; flags: string[]; args: string } {
  const cmdline = splitWhitespace(trimSpace(line), 2);
  let args = '';
  let flags: string[] = [];
  if (cmdline.length === 2) [args, flags] = extractBuilderFlags(cmdline[1], d);
  return { cmd: cmdline[0], flags, args: trimSpace(args) };
}

function nodeFromLine(line: string, d: Directives): DockerNode {
  const { cmd, flags, args } = splitCommand(line, d);
  const fn = DISPATCH[cmd.toLowerCase()] ?? parseIgnore;
  const parsed = fn(args, d);
  const n = newNode(cmd);
  n.original = line;
  n.flags = flags;
  n.next = parsed.next;
  n.json = parsed.json === true;
  return n;
}

// ---- heredocs ----

/** `ParseHeredoc`: the heredoc a (raw) word starts, or null. Throws where BuildKit's lexer fails. */
export function parseHeredoc(src: string): Heredoc | null {
  const m = RE_HEREDOC.exec(src);
  if (!m) return null;
  const rest = m[3];
  if (rest === '') return null;
  const words = processWords(rest, { escape: '\\', rawQuotes: false, rawEscapes: false });
  if (words.length !== 1) return null;
  const raw = processWords(rest, { escape: '\\', rawQuotes: true, rawEscapes: false });
  if (raw.length !== words.length) throw new ShellLexError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  const quotes = (s: string): number => (s.match(/['"]/g) ?? []).length;
  return {
    name: words[0],
    fileDescriptor: Number(m[1] || '0'),
    expand: quotes(words[0]) === quotes(raw[0]),
    chomp: m[2] === '-',
    content: '',
  };
}

/** `heredocsFromLine`: the heredocs a logical line starts (BuildKit's lexer always uses `\` here). */
export function heredocsFromLine(line: string): Heredoc[] {
  let words: string[];
  try {
    words = processWords(line, { escape: '\\', rawQuotes: true, rawEscapes: true });
  } catch {
    words = [];
  }
  const docs: Heredoc[] = [];
  for (const w of words) {
    const h = parseHeredoc(w);
    if (h) docs.push(h);
  }
  return docs;
}

function canContainHeredoc(node: DockerNode): boolean {
  let n = node;
  if (n.value.toLowerCase() === 'onbuild' && n.next && n.next.children.length > 0) n = n.next.children[0];
  return HEREDOC_DIRECTIVES.has(n.value.toLowerCase()) && !n.json;
}

// ---- Parse ----

/** Lines as bufio.Scanner with BuildKit's `scanLines` yields them: split after `\n`, endings kept. */
function scanLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
    lines.push(text.slice(start, i + 1));
    start = i + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

function parse(text: string): { root: DockerNode[]; escape: EscapeChar; warnings: ParsedDockerfile['warnings'] } {
  const lines = scanLines(text);
  // bufio.Scanner stops with ErrTooLong at a line that does not fit its 64 KiB buffer
  for (let i = 0; i < lines.length; i++) {
    if (Buffer.byteLength(trimNewlineOnce(lines[i]), 'utf8') >= MAX_LINE_BYTES) {
      throw new ParseError(i + 1, `dockerfile line greater than max allowed size of ${MAX_LINE_BYTES - 1}`);
    }
  }
  const d = new Directives();
  const children: DockerNode[] = [];
  const warnings: ParsedDockerfile['warnings'] = [];
  let idx = 0;
  let currentLine = 0;
  const processLine = (token: string, stripLeft: boolean): string => {
    let t = trimNewline(token);
    if (stripLeft) t = trimLeft(t);
    try {
      d.parseLine(t);
    } catch (e) {
      throw new ParseError(currentLine + 1, (e as Error).message);
    }
    return isComment(t) ? '' : t;
  };

  while (idx < lines.length) {
    let raw = lines[idx++];
    if (currentLine === 0 && raw.startsWith('\uFEFF')) raw = raw.slice(1);
    let bytesRead = processLine(raw, true);
    currentLine++;
    const startLine = currentLine;
    let isEnd: boolean;
    [bytesRead, isEnd] = d.trimContinuation(bytesRead);
    if (isEnd && bytesRead.length === 0) continue;
    let buf = bytesRead;
    let hasEmptyContinuation = false;
    while (!isEnd && idx < lines.length) {
      const scanned = lines[idx++];
      let piece = processLine(scanned, false);
      currentLine++;
      if (isComment(scanned)) continue;
      if (isEmptyContinuationLine(piece)) {
        hasEmptyContinuation = true;
        continue;
      }
      [piece, isEnd] = d.trimContinuation(piece);
      buf += piece;
    }
    if (hasEmptyContinuation) warnings.push({ line: currentLine, message: `Empty continuation line found in: ${buf}` });

    let child: DockerNode;
    try {
      child = nodeFromLine(buf, d);
    } catch (e) {
      throw new ParseError(startLine, (e as Error).message);
    }
    if (canContainHeredoc(child) && buf.includes('<<')) {
      let docs: Heredoc[];
      try {
        docs = heredocsFromLine(buf);
      } catch (e) {
        throw new ParseError(startLine, (e as Error).message);
      }
      for (const doc of docs) {
        let terminated = false;
        let content = doc.content;
        while (idx < lines.length) {
          const body = lines[idx++];
          currentLine++;
          let candidate = trimNewline(body);
          if (doc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === doc.name) {
            terminated = true;
            break;
          }
          content += body;
        }
        if (!terminated) throw new ParseError(startLine, `unterminated heredoc '<<${doc.name}': no line '${doc.name}' closes it`);
        child.heredocs.push({ ...doc, content });
      }
    }
    child.startLine = startLine;
    child.endLine = currentLine;
    children.push(child);
  }
  return { root: children, escape: d.escape, warnings };
}

function trimNewlineOnce(line: string): string {
  return line.endsWith('\n') ? line.slice(0, -1) : line;
}

const nextValues = (n: DockerNode): string[] => {
  const out: string[] = [];
  for (let x = n.next; x; x = x.next) out.push(x.value);
  return out;
};

function flagOf(word: string): DockerFlag {
  const body = word.startsWith('--') ? word.slice(2) : word;
  const eq = body.indexOf('=');
  return eq < 0 ? { name: body, value: null, raw: null } : { name: body.slice(0, eq), value: body.slice(eq + 1), raw: body.slice(eq + 1) };
}

/**
 * Parses Dockerfile text with BuildKit's rules. Throws `ActionError` (kind `plan`, message
 * `line <n>: ...`) for what BuildKit's parser itself rejects.
 */
export function parseDockerfile(text: string): ParsedDockerfile {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(text);
  } catch (e) {
    if (e instanceof ParseError) throw planError(e.line, e.message);
    throw e;
  }
  if (parsed.root.length === 0) {
    throw new ActionError('Dockerfile has no instructions (only comments, parser directives or blank lines)', { kind: 'plan' });
  }
  const instructions = parsed.root.map((node): DockerInstruction => {
    const sub = node.value.toLowerCase() === 'onbuild' ? (node.next?.children[0] ?? null) : null;
    return {
      line: node.startLine,
      endLine: node.endLine,
      keyword: node.value.toUpperCase(),
      written: node.value,
      flags: node.flags.map(flagOf),
      args: sub ? [] : nextValues(node),
      trigger: sub ? sub.value : null,
      original: node.original,
      heredocs: node.heredocs,
      node,
    };
  });
  return { escape: parsed.escape, instructions, warnings: parsed.warnings };
}

/** Go's `strconv.Quote` (also what the dump of the parse tree quotes with). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\v') out += '\\v';
    else if (ch === ' ' || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) out += ch;
    else if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}
