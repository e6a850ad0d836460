/**
 * Default registered names (CONTRACT §2.7 Dockerfile builds, §2.8 import builds).
 */
import path from 'node:path';

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
