/**
 * Default registered names (docs/protocol.md §2.7 Dockerfile builds, §2.8 import builds).
 */
import path from 'node:path';
import { ActionError } from '../errors.js';
import { hasControlCharacters, oneLine } from '../report/untrusted.js';

const DOCKERFILE_FALLBACK = 'sandbox-image';
const IMPORT_FALLBACK = 'imported-image';

/** Rust's `Path::file_stem`: the name minus its last extension; a leading dot alone is not one. */
function fileStem(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? name : name.slice(0, dot);
}

/**
 * §2.7: the file stem, or, when the stem is `dockerfile` (any case, so also `Dockerfile.dev`), the
 * name of the directory holding the file; `sandbox-image` when that is empty.
 * Departure: the path is resolved lexically against `cwd` first, so `../Dockerfile` names the real
 * parent directory (the reference client takes the file name of the `..` component, which is empty).
 */
export function defaultNameForDockerfile(dockerfilePath: string, cwd: string = process.cwd()): string {
  const abs = path.resolve(cwd, dockerfilePath);
  const stem = fileStem(path.basename(abs));
  if (stem.toLowerCase() === 'dockerfile') {
    const parent = path.basename(path.dirname(abs)).trim();
    return parent === '' ? DOCKERFILE_FALLBACK : parent;
  }
  return stem === '' ? DOCKERFILE_FALLBACK : stem;
}

/**
 * §2.8: drop everything from the first `@`, keep the last `/` segment, drop a non-empty `:tag`;
 * `imported-image` when nothing is left.
 */
export function defaultNameForImport(reference: string): string {
  let s = reference.trim();
  const at = s.indexOf('@');
  if (at >= 0) s = s.slice(0, at);
  let segment = s.slice(s.lastIndexOf('/') + 1);
  const colon = segment.lastIndexOf(':');
  if (colon >= 0 && colon < segment.length - 1) segment = segment.slice(0, colon);
  return segment === '' ? IMPORT_FALLBACK : segment;
}

const MAX_NAME_LENGTH = 200;

/**
 * Why `name` cannot be a registered image name, or undefined when it can: no whitespace or control
 * characters (a name is printed in log lines and sent in JSON), at most 200 characters. The one rule
 * for an explicit `name` input and for a name derived from a directory or an image reference.
 */
export function imageNameProblem(name: string): string | undefined {
  if (name.length > MAX_NAME_LENGTH) return `at most ${MAX_NAME_LENGTH} characters`;
  if (/\s/.test(name) || hasControlCharacters(name)) return 'no whitespace or control characters';
  return undefined;
}

/** A derived name that breaks the rule: an input error that says where it came from and what to set. */
export function checkDerivedName(name: string, from: string): string {
  const problem = imageNameProblem(name);
  if (problem === undefined) return name;
  throw new ActionError(`the image name '${oneLine(name)}' derived from ${from} is not a valid image name (${problem})`, {
    kind: 'input',
    input: 'name',
    advice: ['Set the name input to the name to register the image under.'],
  });
}
