/**
 * Planning (docs/protocol.md §2): turns Dockerfile text (or an image reference to import) into the build
 * plan — base image, additional image references, registry lookups, default name and warnings —
 * without any network or filesystem access.
 *
 * Parsing follows Docker (BuildKit), not the reference client's naive line splitter (§2.2): see
 * `parse.ts`. Everything else of §2.3–§2.8 is kept; each departure is marked `Departure:` below.
 *
 * Over 350 lines on purpose: planning is one pass over the instructions, and the rules that pass
 * applies (stages, references, warnings) read best next to each other.
 */
import path from 'node:path';
import { ActionError } from '../errors.js';
import { formatBytes } from '../format.js';
import { checkDerivedName, defaultNameForDockerfile, defaultNameForImport } from './naming.js';
import { parseDockerfile, type DockerInstruction, type EscapeChar, type ParsedDockerfile } from './parse.js';
import { splitCsvFields, unquoteWord } from './shell.js';

export type PlanWarningKind = 'ignored-instruction' | 'build-arg-reference' | 'digest-pinned-reference' | 'deprecated';

/** Each kind in words, for annotation titles. */
export const PLAN_WARNING_TITLES: Record<PlanWarningKind, string> = {
  'ignored-instruction': 'Dockerfile: instruction without effect in a sandbox',
  'build-arg-reference': 'Dockerfile: image reference with a build argument',
  'digest-pinned-reference': 'Dockerfile: image reference pinned by digest',
  deprecated: 'Dockerfile: deprecated instruction',
};

export interface PlanWarning {
  kind: PlanWarningKind;
  /** 1-based */
  line?: number;
  message: string;
}

export interface BuildPlan {
  mode: 'dockerfile' | 'import';
  /** Dockerfile text sent verbatim to the platform (import: `FROM <ref>\n`). */
  dockerfileText: string;
  /** Path as given by the user (for annotations), absent for import. */
  dockerfilePath?: string;
  /** Absolute context directory (Dockerfile builds only). */
  contextDir?: string;
  baseImage: string;
  baseImageIsInternalStage: boolean;
  /** §2.5 additional refs, in order, base removed. */
  additionalRefs: string[];
  /** §2.6: references to look up in the registry, in order: final FROM if eligible, then additionalRefs. */
  lookupRefs: string[];
  importImageReference?: string;
  name: string;
  warnings: PlanWarning[];
  /** Instruction count and stage count, for the summary. */
  stats: { instructions: number; stages: number };
}

/** Largest Dockerfile accepted, in bytes (1 MiB). */
export const MAX_DOCKERFILE_BYTES = 1024 * 1024;

const KNOWN_INSTRUCTIONS = new Set([
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
]);
/** §2.3: applied by the builder but meaningless for a sandbox image → one warning each. */
const IGNORED_INSTRUCTIONS = new Set(['ONBUILD', 'SHELL', 'EXPOSE', 'HEALTHCHECK', 'LABEL', 'STOPSIGNAL', 'VOLUME']);
/** BuildKit's stage-name rule (checked on the lower-cased name). */
const VALID_STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

const NOT_A_DOCKERFILE_ADVICE = 'Check that the `dockerfile` input points at a Dockerfile.';

const planError = (line: number | undefined, msg: string, advice?: string[]): ActionError =>
  new ActionError(line === undefined ? msg : `line ${line}: ${msg}`, { kind: 'plan', advice });

/** The line number of a planning error (`line <n>: …`), for annotations. */
/**
 * An unknown instruction. A file whose very first instruction is unknown is not a Dockerfile at all
 * (`dockerfile: ../../etc/passwd`): nothing of its content is quoted. Later, only the instruction
 * word is named (a typo such as `RUNN`, cut at 40 characters), never the rest of the line.
 */
function unknownInstruction(ins: { line: number; written: string }, first: boolean): ActionError {
  if (first) {
    return planError(
      ins.line,
      "not a Dockerfile: the first instruction is not a Dockerfile instruction (the file's content is not shown)",
    ).addAdvice('Check that the dockerfile input names a Dockerfile.');
  }
  const word = ins.written.length > 40 ? `${ins.written.slice(0, 40)}…` : ins.written;
  return planError(ins.line, `unknown instruction: ${word}`);
}

export function planErrorLine(e: ActionError): number | undefined {
  const m = /^line (\d+): /.exec(e.message);
  return m ? Number(m[1]) : undefined;
}

const lineAt = (text: string, index: number): number => {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
};

function tooLarge(bytes: number): ActionError {
  return planError(
    undefined,
    `Dockerfile is too large: ${formatBytes(bytes)} (${bytes} bytes); the limit is 1 MiB (${MAX_DOCKERFILE_BYTES} bytes)`,
    [NOT_A_DOCKERFILE_ADVICE],
  );
}

function binary(line: number): ActionError {
  return planError(line, 'Dockerfile contains a NUL byte: it looks like a binary file, not a Dockerfile', [NOT_A_DOCKERFILE_ADVICE]);
}

function notUtf8(line: number): ActionError {
  return planError(line, 'Dockerfile is not valid UTF-8 text', ['Save the Dockerfile as UTF-8.']);
}

/**
 * Decodes Dockerfile bytes for `planDockerfile`, rejecting (with a line number where known) a file
 * over 1 MiB, a binary file (NUL bytes) and invalid UTF-8 — which a lenient decode would silently
 * turn into U+FFFD. A UTF-8 byte-order mark is kept, so the text stays verbatim. Use this rather
 * than `readFile(…, 'utf8')`.
 */
export function decodeDockerfile(bytes: Uint8Array): string {
  if (bytes.length > MAX_DOCKERFILE_BYTES) throw tooLarge(bytes.length);
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    let line = 1;
    for (let i = 0; i < nul; i++) if (bytes[i] === 0x0a) line++;
    throw binary(line);
  }
  const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  try {
    return fatal.decode(bytes);
  } catch {
    let line = 1;
    let start = 0;
    for (;;) {
      const nl = bytes.indexOf(0x0a, start);
      const end = nl < 0 ? bytes.length : nl;
      try {
        fatal.decode(bytes.subarray(start, end));
      } catch {
        throw notUtf8(line);
      }
      if (nl < 0) throw notUtf8(line);
      start = nl + 1;
      line++;
    }
  }
}

/** The same content checks on text that is already decoded. */
function checkText(text: string): void {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_DOCKERFILE_BYTES) throw tooLarge(bytes);
  const nul = text.indexOf('\0');
  if (nul >= 0) throw binary(lineAt(text, nul));
  const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(text);
  if (lone) throw notUtf8(lineAt(text, lone.index));
  if (text.replace(/^\uFEFF/, '').trim() === '') throw planError(undefined, 'Dockerfile is empty');
}

interface FromParts {
  image: string;
  alias?: string;
}

/** §2.4 on the tokens BuildKit sees (flags already split off by the parser). */
function parseFrom(ins: DockerInstruction, escape: EscapeChar): FromParts {
  const line = ins.line;
  const flagText = ins.flags.map((f) => (f.raw === null ? `--${f.name}` : `--${f.name}=${f.raw}`));
  const value = [...flagText, ...ins.args].join(' ');
  for (const f of ins.flags) {
    // Departure: Docker requires `--flag=value`; the reference also took `--platform <value>`.
    if (f.value === null) throw planError(line, `missing value for Dockerfile flag '--${f.name}' (write --${f.name}=<value>)`);
    // Departure: Docker rejects unknown FROM flags at parse time.
    if (f.name !== 'platform') throw planError(line, `unknown flag '--${f.name}' for FROM (only --platform is allowed)`);
  }
  const tokens: string[] = [];
  for (const raw of ins.args) {
    const t = unquoteWord(raw, escape);
    if (t === null) throw planError(line, `invalid FROM syntax '${value}'`);
    tokens.push(t);
  }
  if (tokens.length === 0 || tokens[0] === '') {
    if (ins.flags.length > 0 && ins.args.length === 0) {
      throw planError(line, `invalid Dockerfile flag syntax: ${value} (FROM must include a base image after its flags)`);
    }
    throw planError(line, 'FROM must include a base image');
  }
  if (tokens.length === 1) return { image: tokens[0] };
  if (tokens[1].toLowerCase() !== 'as') throw planError(line, `unsupported FROM syntax '${value}'`);
  if (tokens.length === 2) throw planError(line, 'FROM ... AS must include a stage name');
  // Departure: Docker rejects tokens after the stage name ("FROM requires either one or three arguments").
  if (tokens.length > 3) throw planError(line, `unsupported FROM syntax '${value}'`);
  // Departure: the stage name is checked like Docker does (written as is, quotes are not removed).
  const alias = ins.args[2];
  if (!VALID_STAGE_NAME.test(alias.toLowerCase())) {
    throw planError(line, `invalid name for build stage: '${alias}', name can't start with a number or contain symbols`);
  }
  return { image: tokens[0], alias };
}

/** Explicit name wins when not blank. */
const explicitName = (name: string | undefined): string | undefined => {
  const n = name?.trim();
  return n ? n : undefined;
};

/**
 * BuildKit's parser warns about empty continuation lines (and says they will become errors); one
 * warning per instruction that has any, at its first line. The instruction's text is not repeated.
 */
function emptyContinuationWarnings(parsed: ParsedDockerfile): PlanWarning[] {
  const out: PlanWarning[] = [];
  for (const ins of parsed.instructions) {
    if (!parsed.warnings.some((w) => w.line >= ins.line && w.line <= ins.endLine)) continue;
    out.push({
      kind: 'deprecated',
      line: ins.line,
      message: `line ${ins.line}: empty continuation line in this ${ins.keyword} instruction; Docker warns that empty continuation lines will become errors: remove the empty line (or the escape before it)`,
    });
  }
  return out;
}

export function planDockerfile(opts: { text: string; dockerfilePath: string; contextDir: string; name?: string }): BuildPlan {
  const { text } = opts;
  checkText(text);
  const parsed = parseDockerfile(text);
  const instructions = parsed.instructions;
  if (instructions.length === 0)
    throw planError(undefined, 'Dockerfile has no instructions (only comments, parser directives or blank lines)');
  const hasFrom = instructions.some((i) => i.keyword === 'FROM');
  const noFrom = (): ActionError => planError(undefined, 'Dockerfile must contain a FROM instruction');

  const warnings: PlanWarning[] = emptyContinuationWarnings(parsed);
  const additional: string[] = [];
  /** Stage aliases defined so far, lower-cased. Departure: Docker compares stage names case-insensitively. */
  const aliases = new Set<string>();
  let finalFrom: string | undefined;
  let stages = 0;

  const unresolvable = (ref: string, line: number): boolean => {
    if (ref.includes('$')) {
      warnings.push({
        kind: 'build-arg-reference',
        line,
        message: `line ${line}: image reference '${ref}' contains a build-arg expansion that is not resolved at planning time; the build will pull it from the configured registry instead of using a Tensorlake template`,
      });
      return true;
    }
    if (ref.includes('@')) {
      warnings.push({
        kind: 'digest-pinned-reference',
        line,
        message: `line ${line}: image reference '${ref}' is pinned to a content digest that a locally loaded image cannot match; the build will pull it from the configured registry instead of using a Tensorlake template`,
      });
      return true;
    }
    return false;
  };

  /** §2.5 classification of a COPY --from / RUN --mount from= value. */
  const collect = (ref: string, line: number): void => {
    if (ref.toLowerCase() === 'scratch') return;
    if (unresolvable(ref, line)) return;
    // Departure: a numeric value is a stage index for Docker, so it is internal.
    if (/^\d+$/.test(ref) || aliases.has(ref.toLowerCase())) return;
    if (!additional.includes(ref)) additional.push(ref);
  };

  for (const ins of instructions) {
    const { line, keyword } = ins;
    // Departure: Docker rejects unknown instructions at parse time; the reference accepted them.
    if (!KNOWN_INSTRUCTIONS.has(keyword)) throw unknownInstruction(ins, instructions[0] === ins);
    // Departure: Docker allows only ARG before the first FROM ("no build stage in current context").
    if (stages === 0 && keyword !== 'ARG' && keyword !== 'FROM') {
      if (!hasFrom) throw noFrom();
      throw planError(line, `${keyword} instruction before the first FROM: only ARG may come before FROM`);
    }

    switch (keyword) {
      case 'FROM': {
        const { image, alias } = parseFrom(ins, parsed.escape);
        if (finalFrom !== undefined) {
          const p = finalFrom;
          if (
            p !== image &&
            p.toLowerCase() !== 'scratch' &&
            !p.includes('$') &&
            !p.includes('@') &&
            !aliases.has(p.toLowerCase()) &&
            !additional.includes(p)
          ) {
            additional.push(p);
          }
        }
        unresolvable(image, line);
        finalFrom = image;
        if (alias !== undefined) aliases.add(alias.toLowerCase());
        stages++;
        break;
      }
      case 'ADD':
      case 'COPY':
        // Docker refuses these at parse time: a dry run must not pass what a real build cannot
        if (ins.args.length < 2) {
          throw planError(
            line,
            `${keyword} requires at least two arguments, but only one was provided. Destination could not be determined`,
          );
        }
        if (keyword === 'ADD') break;
        // Departure: only leading flags are flags (Docker); a `--from=` later on the line or in a heredoc body is not one.
        for (const f of ins.flags) {
          if (f.name !== 'from') continue;
          if (f.value === null) throw planError(line, `missing value for Dockerfile flag '--from' (write --from=<stage or image>)`);
          if (f.value !== '') collect(f.value, line);
        }
        break;
      case 'RUN':
        for (const f of ins.flags) {
          if (f.name !== 'mount') continue;
          if (f.value === null) throw planError(line, `missing value for Dockerfile flag '--mount' (write --mount=<options>)`);
          // Docker reads the mount options as one CSV record with case-insensitive keys.
          for (const field of splitCsvFields(f.value)) {
            const eq = field.indexOf('=');
            if (eq < 0 || field.slice(0, eq).trim().toLowerCase() !== 'from') continue;
            const v = field.slice(eq + 1);
            if (v !== '') collect(v, line);
          }
        }
        break;
      case 'ONBUILD': {
        // Departure: Docker rejects these ONBUILD forms at parse time.
        const trigger = ins.trigger?.toUpperCase();
        if (trigger === undefined) throw planError(line, 'ONBUILD requires at least one argument');
        if (trigger === 'ONBUILD') throw planError(line, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (trigger === 'FROM' || trigger === 'MAINTAINER') throw planError(line, `${trigger} isn't allowed as an ONBUILD trigger`);
        break;
      }
      case 'MAINTAINER':
        // Departure: Docker documents MAINTAINER as deprecated; the reference accepted it silently.
        warnings.push({
          kind: 'deprecated',
          line,
          message: 'MAINTAINER instruction is deprecated; use LABEL org.opencontainers.image.authors="…" instead',
        });
        break;
    }
    if (IGNORED_INSTRUCTIONS.has(keyword)) {
      warnings.push({
        kind: 'ignored-instruction',
        line,
        message: `${keyword} instruction is applied during the build but has no effect when sandboxes run from the image`,
      });
    }
  }

  if (finalFrom === undefined) throw noFrom();
  const baseImage = finalFrom;
  const additionalRefs = additional.filter((r) => r !== baseImage);
  const baseImageIsInternalStage = aliases.has(baseImage.toLowerCase());
  // Departure: `scratch` is Docker's empty image, not a registry one: the reference looked it up as
  // the final base (a request that cannot match) while skipping it everywhere else.
  const eligible =
    !baseImageIsInternalStage && baseImage.toLowerCase() !== 'scratch' && !baseImage.includes('$') && !baseImage.includes('@');

  return {
    mode: 'dockerfile',
    dockerfileText: text,
    dockerfilePath: opts.dockerfilePath,
    contextDir: path.resolve(opts.contextDir),
    baseImage,
    baseImageIsInternalStage,
    additionalRefs,
    lookupRefs: eligible ? [baseImage, ...additionalRefs] : [...additionalRefs],
    name: explicitName(opts.name) ?? checkDerivedName(defaultNameForDockerfile(opts.dockerfilePath), 'the Dockerfile path'),
    // in line order (the empty-continuation warnings were collected first); stable for one line
    warnings: warnings.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)),
    stats: { instructions: instructions.length, stages },
  };
}

/** §2.8: the plan of `tl sbx image import <ref>`. */
export function planImport(opts: { reference: string; name?: string }): BuildPlan {
  const reference = opts.reference.trim();
  if (reference === '') throw new ActionError('image reference to import must not be empty', { kind: 'input', input: 'image' });
  // Departure: whitespace inside the reference would inject lines into the synthetic `FROM <ref>\n`.
  if (/\s/.test(reference)) {
    throw new ActionError(`image reference to import must not contain whitespace: '${reference}'`, { kind: 'input', input: 'image' });
  }
  return {
    mode: 'import',
    dockerfileText: `FROM ${reference}\n`,
    baseImage: reference,
    baseImageIsInternalStage: false,
    additionalRefs: [],
    lookupRefs: [],
    importImageReference: reference,
    name: explicitName(opts.name) ?? checkDerivedName(defaultNameForImport(reference), 'the image reference'),
    warnings: [],
    stats: { instructions: 1, stages: 1 },
  };
}
