/**
 * Dockerfile parsing "like Docker does": the maintained parser `dockerfile-ast` does the work
 * (instructions, line ranges, escape directive, continuations with comments and blank lines,
 * heredocs, flags), and this module wraps the places where it disagrees with BuildKit's parser
 * (moby/buildkit `frontend/dockerfile/parser`):
 *
 * - parser directives: BuildKit stops looking for directives at the first line that is not a
 *   known directive (`syntax`, `escape`, `check`) and rejects a repeated directive or an escape
 *   value other than `\` or a backtick; dockerfile-ast keeps scanning and silently ignores bad values;
 * - a lone `\r` is not a line break for BuildKit (it splits on `\n` only), it is for dockerfile-ast;
 * - a line ending in an escaped escape character (`RUN echo \\`) does not continue in BuildKit;
 * - heredocs: BuildKit only sees `<<` at the start of a shell word (so not inside quotes or after
 *   an escape), needs a non-empty name, and accepts a file-descriptor prefix (`3<<EOF`);
 *   dockerfile-ast splits on whitespace ignoring quotes, accepts `<<-` with no name and misses
 *   `3<<EOF`. An unterminated heredoc is a BuildKit parse error;
 * - flag values keep their quotes in dockerfile-ast; BuildKit removes them.
 *
 * Wrapping works on a private copy of the text in which the offending characters are replaced by
 * characters of the same length (so lines and columns stay the same); the text sent to the
 * builder is never changed.
 */
import { DockerfileParser, ModifiableInstruction, Onbuild, type Dockerfile, type Instruction } from 'dockerfile-ast';
import { ActionError } from '../errors.js';
import { splitRawWords, unquoteWord } from './shell.js';

export type EscapeChar = '\\' | '`';

export interface DockerFlag {
  /** Flag name without the leading `--`, as written. */
  name: string;
  /** Value with Docker's quote removal applied; `null` when the flag was written without `=`. */
  value: string | null;
  /** Value as written (quotes kept); `null` when the flag was written without `=`. */
  raw: string | null;
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
  /** Leading `--flags` (RUN, COPY, ADD, FROM, ...). */
  flags: DockerFlag[];
  /** Whitespace-separated arguments after the flags, as written (comments and continuations removed). */
  args: string[];
  /** ONBUILD only: the trigger keyword as written, or null. */
  trigger: string | null;
}

export interface ParsedDockerfile {
  escape: EscapeChar;
  instructions: DockerInstruction[];
}

const planError = (line: number, msg: string): ActionError => new ActionError(`line ${line}: ${msg}`, { kind: 'plan' });

/** Directives BuildKit knows; any other `# key=value` line ends the directive section. */
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const RE_DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const RE_HEREDOC = /^(\d*)<<(-?)([^<]*)$/;
const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD']);

function trimNewline(line: string): string {
  let end = line.length;
  while (end > 0 && (line[end - 1] === '\r' || line[end - 1] === '\n')) end--;
  return line.slice(0, end);
}

/** BuildKit's directive scan: returns the escape character and the index of the first non-directive line. */
function readDirectives(lines: string[]): { escape: EscapeChar; end: number } {
  let escape: EscapeChar = '\\';
  const seen = new Set<string>();
  let i = 0;
  for (; i < lines.length; i++) {
    let line = trimNewline(lines[i]);
    if (i === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
    const m = RE_DIRECTIVE.exec(line.trimStart());
    if (!m) break;
    const key = m[1].toLowerCase();
    if (!KNOWN_DIRECTIVES.has(key)) break;
    if (seen.has(key)) throw planError(i + 1, `only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === 'escape') {
      const value = m[2];
      if (value !== '\\' && value !== '`') throw planError(i + 1, `invalid escape token '${value}' does not match \` or \\`);
      escape = value;
    }
  }
  return { escape, end: i };
}

/**
 * BuildKit's line-continuation test on one physical line (newline trimmed): the escape character,
 * then only blanks, and not itself escaped. Returns the line without the continuation, or null.
 */
function stripContinuation(line: string, escape: string): string | null {
  let end = line.length;
  while (end > 0 && (line[end - 1] === ' ' || line[end - 1] === '\t')) end--;
  if (end === 0 || line[end - 1] !== escape) return null;
  if (end >= 2 && line[end - 2] === escape) return null;
  return line.slice(0, end - 1);
}

function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** Replaces characters at `offsets` (one each) with `ch`, keeping the length. */
function replaceAt(text: string, edits: Array<{ offset: number; length: number; ch: string }>): string {
  const chars = text.split('');
  for (const e of edits) for (let k = 0; k < e.length; k++) chars[e.offset + k] = e.ch;
  return chars.join('');
}

interface LogicalLine {
  text: string;
  /** Document offset of every character of `text`. */
  offs: number[];
  /** Index of the last physical line that belongs to the logical line. */
  lastLine: number;
}

/** BuildKit's logical line starting at physical line `first` (comments/blank lines inside continuations skipped). */
function logicalLine(text: string, starts: number[], first: number, column: number, escape: string): LogicalLine {
  let out = '';
  const offs: number[] = [];
  const physical = (n: number): string => trimNewline(text.slice(starts[n], n + 1 < starts.length ? starts[n + 1] : text.length));
  const append = (s: string, base: number): void => {
    out += s;
    for (let k = 0; k < s.length; k++) offs.push(base + k);
  };
  let n = first;
  let piece = physical(n).slice(column);
  let cut = stripContinuation(piece, escape);
  append(cut ?? piece, starts[n] + column);
  while (cut !== null && n + 1 < starts.length) {
    n++;
    piece = physical(n);
    const trimmed = piece.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    cut = stripContinuation(piece, escape);
    append(cut ?? piece, starts[n]);
  }
  return { text: out, offs, lastLine: n };
}

interface DockerHeredoc {
  name: string;
  chomp: boolean;
  /** Document offset of the `<<`. */
  opOffset: number;
  /** Length of the file-descriptor prefix (digits before `<<`). */
  fdLength: number;
}

/** The heredocs BuildKit finds on an instruction's first logical line (none for JSON form). */
function dockerHeredocs(line: LogicalLine, keyword: string, trigger: string | null): DockerHeredoc[] {
  const words = splitRawWords(line.text, '\\');
  let k = 1;
  let effective = keyword;
  if (keyword === 'ONBUILD') {
    effective = (trigger ?? '').toUpperCase();
    k = 2;
  }
  if (!HEREDOC_KEYWORDS.has(effective)) return [];
  while (k < words.length && words[k].word.startsWith('--')) k++;
  if (k < words.length) {
    const rest = line.text.slice(words[k].start).trim();
    if (rest.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(rest);
        if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return [];
      } catch {
        // not JSON: shell form
      }
    }
  }
  const docs: DockerHeredoc[] = [];
  for (const w of words) {
    const m = RE_HEREDOC.exec(w.word);
    if (!m || m[3] === '') continue;
    const name = unquoteWord(m[3], '\\');
    if (name === null || name === '' || splitRawWords(m[3], '\\').length !== 1) continue;
    docs.push({ name, chomp: m[2] === '-', opOffset: line.offs[w.start + m[1].length], fdLength: m[1].length });
  }
  return docs;
}

/** dockerfile-ast's own heredoc test on an argument (its `Util.parseHeredocName`). */
function astSeesHeredoc(value: string): boolean {
  if (!value.startsWith('<<') || value.length <= 2) return false;
  let v = value.slice(2);
  if (v.startsWith('-')) v = v.slice(1);
  for (const q of ['"', "'"]) {
    if (v.startsWith(q)) {
      if (!v.endsWith(q)) return false;
      v = v.slice(1, -1);
    }
  }
  return !v.startsWith('<');
}

const offsetOf = (starts: number[], pos: { line: number; character: number }): number => starts[pos.line] + pos.character;

function heredocInstruction(i: Instruction): Instruction | null {
  if (i instanceof Onbuild) return i.getTriggerInstruction();
  return HEREDOC_KEYWORDS.has(i.getKeyword()) ? i : null;
}

function triggerOf(i: Instruction): string | null {
  return i instanceof Onbuild ? i.getTriggerWord() : null;
}

/** Edits that make dockerfile-ast see exactly BuildKit's heredocs on every instruction. */
function heredocFixes(df: Dockerfile, text: string, starts: number[], escape: string) {
  const edits: Array<{ offset: number; length: number; ch: string }> = [];
  for (const ins of df.getInstructions()) {
    const target = heredocInstruction(ins);
    if (target === null) continue;
    const start = ins.getRange().start;
    const line = logicalLine(text, starts, start.line, start.character, escape);
    const end = line.offs.length ? line.offs[line.offs.length - 1] + 1 : offsetOf(starts, start);
    const docker = dockerHeredocs(line, ins.getKeyword(), triggerOf(ins));
    const dockerOps = new Set(docker.map((d) => d.opOffset));
    const astOps = new Set<number>();
    for (const arg of target.getArguments()) {
      const off = offsetOf(starts, arg.getRange().start);
      if (off >= end) break;
      if (astSeesHeredoc(arg.getValue())) astOps.add(off);
    }
    // Not a heredoc for BuildKit (quoted, escaped, no name): hide the `<<` from dockerfile-ast.
    for (const off of astOps) if (!dockerOps.has(off)) edits.push({ offset: off, length: 2, ch: '_' });
    // A file-descriptor prefix (`3<<EOF`): blank the digits so dockerfile-ast sees `<<EOF`.
    for (const d of docker) {
      if (d.fdLength > 0 && !astOps.has(d.opOffset)) edits.push({ offset: d.opOffset - d.fdLength, length: d.fdLength, ch: ' ' });
    }
  }
  return edits;
}

/** BuildKit's heredoc body scan: every heredoc needs its terminator line, in order. */
function checkHeredocsTerminated(df: Dockerfile, text: string, starts: number[], escape: string): void {
  const lineCount = starts.length;
  for (const ins of df.getInstructions()) {
    if (heredocInstruction(ins) === null) continue;
    const start = ins.getRange().start;
    const line = logicalLine(text, starts, start.line, start.character, escape);
    let n = line.lastLine;
    for (const doc of dockerHeredocs(line, ins.getKeyword(), triggerOf(ins))) {
      let found = false;
      while (++n < lineCount) {
        let candidate = trimNewline(text.slice(starts[n], n + 1 < lineCount ? starts[n + 1] : text.length));
        if (doc.chomp) candidate = candidate.replace(/^\t+/, '');
        if (candidate === doc.name) {
          found = true;
          break;
        }
      }
      if (!found) throw planError(start.line + 1, `unterminated heredoc '<<${doc.name}': no line '${doc.name}' closes it`);
    }
  }
}

/**
 * Parses Dockerfile text with BuildKit's rules. Throws `ActionError` (kind `plan`, message
 * `line <n>: ...`) for what BuildKit's parser itself rejects: a repeated or invalid parser directive
 * and an unterminated heredoc. Instruction-level checks are the planner's.
 */
export function parseDockerfile(text: string): ParsedDockerfile {
  // A lone CR is not a line break for BuildKit: make it a blank for dockerfile-ast.
  let prepared = text.replace(/\r(?!\n)/g, ' ');
  const { escape, end: directiveEnd } = readDirectives(prepared.split('\n'));
  const starts = lineStartsOf(prepared);

  // `RUN echo \\` (escaped escape at the end) does not continue the line in BuildKit.
  const escEdits: Array<{ offset: number; length: number; ch: string }> = [];
  for (let n = 0; n < starts.length; n++) {
    const line = trimNewline(prepared.slice(starts[n], n + 1 < starts.length ? starts[n + 1] : prepared.length));
    let end = line.length;
    while (end > 0 && (line[end - 1] === ' ' || line[end - 1] === '\t')) end--;
    if (end >= 2 && line[end - 1] === escape && line[end - 2] === escape)
      escEdits.push({ offset: starts[n] + end - 1, length: 1, ch: '_' });
  }
  if (escEdits.length) prepared = replaceAt(prepared, escEdits);

  let df = DockerfileParser.parse(prepared);

  // dockerfile-ast keeps reading directives after an unknown one; BuildKit does not.
  const late = df.getDirectives().filter((d) => d.getRange().start.line >= directiveEnd);
  if (late.length) {
    const edits = late.map((d) => {
      const n = d.getRange().start.line;
      return { offset: starts[n] + prepared.slice(starts[n]).indexOf('='), length: 1, ch: ' ' };
    });
    prepared = replaceAt(prepared, edits);
    df = DockerfileParser.parse(prepared);
  }
  if (df.getEscapeCharacter() !== escape) {
    throw new ActionError(`Dockerfile parser disagreement on the escape character ('${df.getEscapeCharacter()}' vs '${escape}')`, {
      kind: 'internal',
    });
  }

  for (let pass = 0; ; pass++) {
    const edits = heredocFixes(df, prepared, starts, escape);
    if (edits.length === 0) break;
    if (pass >= 64) throw new ActionError('Dockerfile heredoc reconciliation did not settle', { kind: 'internal' });
    prepared = replaceAt(prepared, edits);
    df = DockerfileParser.parse(prepared);
  }
  checkHeredocsTerminated(df, prepared, starts, escape);

  const instructions: DockerInstruction[] = df.getInstructions().map((ins) => {
    const range = ins.getRange();
    const flags: DockerFlag[] =
      ins instanceof ModifiableInstruction
        ? ins.getFlags().map((f) => {
            const raw = f.getValue();
            return { name: f.getName(), value: raw === null ? null : (unquoteWord(raw, escape) ?? raw), raw };
          })
        : [];
    return {
      line: range.start.line + 1,
      endLine: range.end.line + 1,
      keyword: ins.getKeyword(),
      written: ins.getInstruction(),
      flags,
      args: ins.getArguments().map((a) => a.getValue()),
      trigger: triggerOf(ins),
    };
  });
  return { escape, instructions };
}
