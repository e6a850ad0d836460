/**
 * `.dockerignore` with Docker's own semantics: the rules of moby's `patternmatcher` and
 * `ignorefile.ReadAll`, as `docker build` (BuildKit/fsutil and the classic builder) applies them.
 * This deliberately departs from the reference client, which uses gitignore rules (docs/protocol.md
 * §2.9, §13).
 *
 * Reading (`ignorefile.ReadAll`): a UTF-8 BOM on the first line is dropped; a line whose first
 * character is `#` is a comment (a `#` after leading blanks is a pattern); blanks around a line are
 * trimmed; empty lines are skipped; `!` marks an exception (re-inclusion); each pattern is cleaned
 * like Go's `filepath.Clean` (`./a` → `a`, `a//b/../c` → `a/c`, `secrets/` → `secrets`) and a
 * leading `/` is dropped. A lone `!` is an error, as in Docker.
 *
 * Matching (`patternmatcher`): patterns are anchored at the context root (`*.log` matches
 * `x.log` but not `a/x.log`; `**\/*.log` matches both). `*` and `?` do not cross `/`; `**` crosses
 * any number of directories (including none); `[...]` classes and `\` escapes follow
 * `filepath.Match`. A pattern that starts with `**` and has no other wildcard is a plain suffix
 * match at any depth (`**.pem` excludes `a.pem` and `deep/dir/b.pem`; `**node_modules` also
 * excludes `my_node_modules`), and one that ends in `**` and has no other wildcard a plain prefix,
 * as moby compares them. A pattern matches a path when it matches the path itself or any of its parent
 * directories (so `secrets` also excludes `secrets/key.pem`, and a trailing `/` changes nothing:
 * `secrets/` also excludes a *file* named `secrets`). The last pattern that matches decides:
 * exclusion, or re-inclusion for a `!` pattern. Matching is case-sensitive, as Docker on Linux.
 * A pattern that `filepath.Match` rejects (`[abc`, `[]`, `a\`), or whose class moby's regular
 * expression rejects (a reversed range: `[z-a]`, `[Local-Only]`), is an error, as in Docker.
 *
 * Why not `@balena/dockerignore` as is (checked against moby; see the tests): it is
 * case-insensitive unless told otherwise; it copies `+ ( ) | { }` into its regular expression
 * unescaped, so `pkg-1.0+local-py3-none-any.whl` does not match itself, `a|b` matches `a`, `a{2}`
 * matches `aa`, and `a(b` throws a SyntaxError at match time; invalid patterns only fail lazily,
 * on the first path tested; a lone `!` is silently dropped; and its per-path cache is a plain
 * object, so a file named `constructor`, `toString` or `__proto__` is never ignored. This module is
 * therefore a small port of moby's matcher; the tests cross-check it against `@balena/dockerignore`
 * (with `ignorecase: false`) on the vectors where that library is right.
 *
 * Deliberate, documented deviations from moby's regex translation (both are moby bugs against
 * its own documented `filepath.Match` semantics, and only matter for names containing these
 * characters): `^` outside a class is a literal character (moby copies it as an anchor, so such a
 * pattern never matches), and `\x` escapes the literal `x` (moby copies `\d`, `\w`, ... as regex
 * classes).
 *
 * Over 350 lines on purpose: a port of moby's matcher and reader, kept whole so it can be compared
 * with upstream rule by rule.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ActionError } from '../errors.js';

export interface IgnoreMatcher {
  /** Is this context-relative path (`/`-separated, no leading `./`) excluded from the context? */
  ignores(relPath: string, isDir: boolean): boolean;
  /** May anything below this (excluded) directory be re-included by a `!` rule? */
  mayReinclude(relDir: string): boolean;
  /** The ignore file the rules came from, when there was one. */
  readonly source?: string;
  /** The patterns after Docker's normalisation, in file order; exceptions keep their leading `!`. */
  readonly patterns: string[];
}

/**
 * moby's match kinds (`Pattern.compile`): a pattern with only literal characters is compared as a
 * string; one ending in `**` (and otherwise literal) is a prefix; one starting with `**` (and
 * otherwise literal) is a plain suffix at any depth (`**.pem` matches `a.pem` and `x/y/b.pem`,
 * `**node_modules` matches `my_node_modules`); everything else is a regular expression.
 */
export type MatchKind = 'exact' | 'prefix' | 'suffix' | 'regexp';

interface CompiledPattern {
  /** cleaned pattern without the `!` */
  glob: string;
  exclusion: boolean;
  kind: MatchKind;
  test: (relPath: string) => boolean;
  /** per-`/`-segment regexes, or null when the pattern cannot be split safely (escapes, `/` in a class, suffix kind) */
  segments: Array<RegExp | 'globstar'> | null;
}

/** Go's `unicode.IsSpace` set, for `strings.TrimSpace` parity (JS `trim` also strips U+FEFF). */
const GO_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const TRIM_RE = new RegExp(`^[${GO_SPACE}]+|[${GO_SPACE}]+$`, 'gu');
function goTrimSpace(s: string): string {
  return s.replace(TRIM_RE, '');
}

/** Go's `path/filepath.Clean` for `/`-separated paths. */
export function goClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

class PatternError extends Error {}

const REGEX_SYNTAX = '^$\\.*+?()[]{}|/';
function escapeOutside(ch: string): string {
  return REGEX_SYNTAX.includes(ch) ? `\\${ch}` : ch;
}
function escapeInClass(ch: string): string {
  return REGEX_SYNTAX.includes(ch) || ch === '-' ? `\\${ch}` : ch;
}

/**
 * Translates one cleaned glob (no leading `!`) into an anchored regular expression the way moby's
 * `Pattern.compile` does, validating it the way `filepath.Match` does (ErrBadPattern cases).
 * `complex` is set when the glob has a `\` escape or a class containing `/`, which the per-segment
 * analysis of `mayReinclude` does not attempt.
 */
function translate(glob: string): { source: string; complex: boolean; kind: MatchKind } {
  const chars = Array.from(glob);
  let re = '';
  let complex = false;
  let kind: MatchKind = 'exact';
  for (let i = 0; i < chars.length; i++) {
    const first = i === 0;
    const ch = chars[i];
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++; // treat `**/` as `**`
        if (i + 1 >= chars.length) {
          re += '.*';
          kind = kind === 'exact' ? 'prefix' : 'regexp';
        } else {
          re += '(?:.*/)?';
          kind = 'regexp';
        }
        if (first) kind = 'suffix';
      } else {
        re += '[^/]*';
        kind = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      kind = 'regexp';
    } else if (ch === '\\') {
      complex = true;
      if (i + 1 >= chars.length) throw new PatternError('a trailing \\ escapes nothing');
      re += escapeOutside(chars[++i]);
      kind = 'regexp';
    } else if (ch === '[') {
      kind = 'regexp';
      // filepath.Match: '[' [ '^' ] { lo [ '-' hi ] } ']' with at least one range; lo/hi are
      // '\'-escaped characters or any character but '-' and ']'.
      let j = i + 1;
      let cls = '[';
      if (chars[j] === '^') {
        cls += '^';
        complex = true; // a negated class can match '/'
        j++;
      }
      let ranges = 0;
      const esc = (): string => {
        const c = chars[j];
        if (c === undefined) throw new PatternError('unterminated character class');
        if (c === '-' || c === ']') throw new PatternError(`unexpected '${c}' in character class`);
        if (c === '\\') {
          complex = true;
          j++;
          if (chars[j] === undefined) throw new PatternError('unterminated character class');
        }
        return chars[j++];
      };
      for (;;) {
        if (chars[j] === ']' && ranges > 0) {
          j++;
          break;
        }
        const lo = esc();
        let hi = lo;
        if (chars[j] === undefined) throw new PatternError('unterminated character class');
        if (chars[j] === '-') {
          j++;
          hi = esc();
          if (chars[j] === undefined) throw new PatternError('unterminated character class');
        }
        ranges++;
        if (lo === '/' || hi === '/' || (lo < '/' && hi > '/')) complex = true;
        // filepath.Match accepts a reversed range, but moby copies the class into a Go regular
        // expression, which rejects it: `docker build` fails with "syntax error in pattern".
        if ((lo.codePointAt(0) ?? 0) > (hi.codePointAt(0) ?? 0)) throw new PatternError(`reversed range ${lo}-${hi} in character class`);
        cls += lo === hi ? escapeInClass(lo) : `${escapeInClass(lo)}-${escapeInClass(hi)}`;
      }
      re += `${cls}]`;
      i = j - 1;
    } else {
      if (ch === ']') kind = 'regexp';
      re += escapeOutside(ch);
    }
  }
  return { source: re, complex, kind };
}

function compile(glob: string, exclusion: boolean): CompiledPattern {
  const { source, complex, kind } = translate(glob);
  let segments: CompiledPattern['segments'] = null;
  if (!complex && kind !== 'suffix') {
    segments = glob.split('/').map((seg) => (seg.includes('**') ? 'globstar' : new RegExp(`^${translate(seg).source}$`, 'u')));
  }
  return { glob, exclusion, kind, test: matcherFor(glob, kind, source), segments };
}

/** moby's `Pattern.match` for each kind. */
function matcherFor(glob: string, kind: MatchKind, source: string): (p: string) => boolean {
  switch (kind) {
    case 'exact':
      return (p) => p === glob;
    case 'prefix': {
      const prefix = glob.slice(0, -2);
      return (p) => p.startsWith(prefix);
    }
    case 'suffix': {
      const suffix = glob.slice(2);
      const bare = suffix.startsWith('/') ? suffix.slice(1) : undefined; // `**/foo` also matches `foo`
      return (p) => p.endsWith(suffix) || p === bare;
    }
    case 'regexp': {
      const re = new RegExp(`^${source}$`, 'u');
      return (p) => re.test(p);
    }
  }
}

/**
 * `ignorefile.ReadAll`: the patterns of an ignore file's lines, with their 1-based line numbers
 * (a lone `!` is kept here; the matcher refuses it).
 */
export function readIgnoreLines(lines: string[]): Array<{ pattern: string; line: number }> {
  const out: Array<{ pattern: string; line: number }> = [];
  lines.forEach((raw, idx) => {
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (idx === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
    if (line.startsWith('#')) return;
    let p = goTrimSpace(line);
    if (p === '') return;
    const invert = p[0] === '!';
    if (invert) p = goTrimSpace(p.slice(1));
    if (p.length > 0) {
      p = goClean(p);
      if (p.length > 1 && p[0] === '/') p = p.slice(1);
    }
    if (invert) p = `!${p}`;
    out.push({ pattern: p, line: idx + 1 });
  });
  return out;
}

/** `ReadAll` then `patternmatcher.New`'s own trimming and cleaning. */
function normalise(lines: string[]): Array<{ pattern: string; line: number }> {
  return readIgnoreLines(lines).map(({ pattern, line }) => ({ pattern: goClean(goTrimSpace(pattern)), line }));
}

/** moby's match kind for one cleaned pattern (no leading `!`); throws on a pattern Docker rejects. */
export function patternKind(glob: string): MatchKind {
  return translate(glob).kind;
}

/** Go's `path/filepath.Dir` for `/`-separated paths. */
function goDir(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '.' : goClean(p.slice(0, i + 1));
}

/** The matcher. Exported for the context walker, which uses the incremental `matchChild`. */
export class DockerIgnoreMatcher implements IgnoreMatcher {
  readonly source?: string;
  readonly patterns: string[];
  private readonly compiled: CompiledPattern[];
  private readonly hasExclusions: boolean;

  constructor(lines: string[], source?: string) {
    this.source = source;
    const where = source ?? '.dockerignore';
    const kept = normalise(lines);
    this.patterns = kept.map((k) => k.pattern);
    this.compiled = kept.map(({ pattern, line }) => {
      let glob = pattern;
      let exclusion = false;
      if (glob[0] === '!') {
        if (glob.length === 1) {
          throw new ActionError(`Invalid .dockerignore pattern in ${where} line ${line}: illegal exclusion pattern "!"`, {
            kind: 'context',
            advice: ['Write the path to re-include after the "!", or delete the line.'],
          });
        }
        exclusion = true;
        glob = glob.slice(1);
      }
      try {
        return compile(glob, exclusion);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        throw new ActionError(`Invalid .dockerignore pattern in ${where} line ${line}: "${pattern}" (${why})`, {
          kind: 'context',
          advice: ['Docker rejects this pattern too (filepath.Match syntax); escape special characters with \\ or fix the class.'],
          cause: e,
        });
      }
    });
    this.hasExclusions = this.compiled.some((c) => c.exclusion);
  }

  get empty(): boolean {
    return this.compiled.length === 0;
  }

  /** Per-pattern "matches this path or a parent" state for the context root's children. */
  rootState(): boolean[] {
    return new Array<boolean>(this.compiled.length).fill(false);
  }

  /**
   * Incremental form used by the walker: given the parent's per-pattern state, returns whether
   * `relPath` is excluded and its own state (for its children, when it is a directory).
   */
  matchChild(relPath: string, parentState: readonly boolean[]): { ignored: boolean; state: boolean[] } {
    const state = new Array<boolean>(this.compiled.length);
    let ignored = false;
    for (let i = 0; i < this.compiled.length; i++) {
      const c = this.compiled[i];
      const m = parentState[i] || c.test(relPath);
      state[i] = m;
      if (m) ignored = !c.exclusion;
    }
    return { ignored, state };
  }

  ignores(relPath: string, _isDir: boolean): boolean {
    // Docker does not distinguish files from directories: `dir/` is cleaned to `dir`.
    const p = normaliseRel(relPath);
    if (p === '' || this.compiled.length === 0) return false;
    return this.matchesOrParentMatches(p);
  }

  /** moby's `MatchesOrParentMatches`, on a path as given. */
  matchesOrParentMatches(file: string): boolean {
    let matched = false;
    const parent = goDir(file);
    const parentDirs = parent.split('/');
    for (const c of this.compiled) {
      // an inclusion that already matched, or an exclusion before anything matched, changes nothing
      if (c.exclusion !== matched) continue;
      let match = c.test(file);
      for (let i = 0; !match && parent !== '.' && i < parentDirs.length; i++) match = c.test(parentDirs.slice(0, i + 1).join('/'));
      if (match) matched = !c.exclusion;
    }
    return matched;
  }

  mayReinclude(relDir: string): boolean {
    if (!this.hasExclusions) return false;
    const dirSegs = normaliseRel(relDir).split('/');
    for (const c of this.compiled) {
      if (!c.exclusion) continue;
      if (c.segments === null) return true; // cannot analyse: stay correct, do not prune
      if (couldMatchBelow(c.segments, dirSegs)) return true;
    }
    return false;
  }
}

/**
 * Could a pattern (split in segments) match some path strictly below `dirSegs`? A pattern that
 * can only match the directory itself or its parents cannot re-include anything below it: the
 * exclusion that excluded the directory comes later and matches every descendant too.
 */
function couldMatchBelow(segments: ReadonlyArray<RegExp | 'globstar'>, dirSegs: readonly string[]): boolean {
  for (let i = 0; i < dirSegs.length; i++) {
    if (i >= segments.length) return false;
    const s = segments[i];
    if (s === 'globstar') return true;
    if (!s.test(dirSegs[i])) return false;
  }
  return segments.length > dirSegs.length;
}

function normaliseRel(p: string): string {
  let s = p.replace(/\/+$/, '');
  while (s.startsWith('./')) s = s.slice(2);
  return s.replace(/^\/+/, '');
}

export function createIgnoreMatcher(patterns: string[], source?: string): IgnoreMatcher {
  return new DockerIgnoreMatcher(patterns, source);
}

/**
 * Finds and reads the ignore file the way BuildKit does: `<dockerfile>.dockerignore` next to the
 * Dockerfile (e.g. `app/Dockerfile.dockerignore`) when it exists, else `<context>/.dockerignore`,
 * else no rules. The Dockerfile-specific file replaces (does not extend) the context's file.
 */
export async function loadDockerignore(contextDir: string, dockerfilePath?: string): Promise<IgnoreMatcher> {
  return loadDockerignoreMatcher(contextDir, dockerfilePath);
}

export async function loadDockerignoreMatcher(contextDir: string, dockerfilePath?: string): Promise<DockerIgnoreMatcher> {
  const candidates: string[] = [];
  if (dockerfilePath) candidates.push(path.resolve(`${dockerfilePath}.dockerignore`));
  candidates.push(path.resolve(contextDir, '.dockerignore'));
  for (const file of candidates) {
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      const why =
        code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
      throw new ActionError(`Cannot read ignore file ${file}: ${why}`, {
        kind: 'context',
        advice: ['Make the ignore file a readable regular file, or remove it.'],
        cause: e,
      });
    }
    return new DockerIgnoreMatcher(text.split('\n'), file);
  }
  return new DockerIgnoreMatcher([]);
}
