/**
 * The `images` input: a YAML list of entries, each with the per-image inputs, inheriting the step's
 * values for what it omits. Everything is validated as a whole before anything starts: each entry's
 * inputs (through the same reader as a single-image step), its Dockerfile (planned locally), unknown
 * keys (with a did-you-mean), duplicate names, modes that cannot be combined, and the dependency
 * graph (an entry whose FROM or COPY --from names another entry's image is built after it; a cycle
 * is an input error naming it). Errors name the entry. No network.
 */
import { ActionError, toActionError } from '../errors.js';
import { inputError, type InputSource } from '../input-readers.js';
import { readInputs, type ActionInputs } from '../inputs.js';
import { planDockerfile, planImport, type BuildPlan } from '../dockerfile/plan.js';
import { readDockerfile } from '../pipeline/plan-phase.js';
import { loadDockerignore } from '../context/dockerignore.js';
import { dependencyLayers } from './graph.js';

/** Inputs an entry may set; the rest (credentials, endpoint, reporting, orchestration) belong to the step. */
export const ENTRY_KEYS = [
  'dockerfile',
  'context',
  'image',
  'name',
  'streaming',
  'public',
  'disk-mb',
  'builder-disk-mb',
  'cpus',
  'memory-mb',
  'docker-compat',
  'registry-credentials',
  'wait',
  'admission-timeout',
  'poll-interval',
  'build-timeout',
  'sandbox-timeout',
] as const;

/** An entry's source is its own: a step-level dockerfile/context/image never leaks into an entry. */
const SOURCE_KEYS = new Set(['dockerfile', 'context', 'image']);

export interface ImageEntry {
  /** 1-based position in the list */
  index: number;
  /** the registered image name (explicit, or the default of §2.7/§2.8) */
  name: string;
  inputs: ActionInputs;
  plan: BuildPlan;
  /** names of the entries this one is built on (FROM / COPY --from / RUN --mount from=) */
  deps: string[];
  /** 0 for entries without dependencies, else 1 + the deepest dependency's layer */
  layer: number;
  /** what the entry set itself, as strings (for the matrix output) */
  given: Record<string, string>;
}

function entryLabel(index: number, raw: Record<string, string>): string {
  const what = raw.name ?? raw.dockerfile ?? raw.image;
  return `entry ${index}${what ? ` (${what})` : ''}`;
}

function entryError(index: number, raw: Record<string, string>, problem: string, cause?: ActionError): ActionError {
  return new ActionError(`Input 'images', ${entryLabel(index, raw)}: ${problem}`, {
    kind: 'input',
    input: 'images',
    advice: cause?.advice,
    cause,
  });
}

/** Levenshtein distance, for the did-you-mean of an unknown key. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

export function didYouMean(key: string, known: readonly string[]): string | undefined {
  const norm = key.toLowerCase().replace(/[_\s]/g, '-');
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dd = k === norm ? 0 : distance(norm, k);
    if (dd < bestD) [best, bestD] = [k, dd];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

/**
 * The YAML text → one string map per entry (scalars only). The YAML parser is loaded here, not at
 * start-up: only a step with an `images` list needs it (it is a sixth of the bundle).
 */
export async function parseImagesYaml(text: string): Promise<Record<string, string>[]> {
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw inputError('images', `not valid YAML: ${e.message.split('\n')[0]}`);
  }
  const value: unknown = doc.toJS();
  if (!Array.isArray(value)) {
    throw inputError('images', 'expected a YAML list of entries (each a mapping such as `- dockerfile: images/base/Dockerfile`)');
  }
  if (value.length === 0) throw inputError('images', 'the list is empty: give at least one entry');
  return value.map((item: unknown, i) => {
    const index = i + 1;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new ActionError(
        // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a primitive here: null and lists took the branches before, mappings never get here
        `Input 'images', entry ${index}: expected a mapping of inputs (e.g. \`- dockerfile: images/base/Dockerfile\`), got ${item === null ? 'an empty entry' : Array.isArray(item) ? 'a list' : `'${String(item)}'`}`,
        { kind: 'input', input: 'images' },
      );
    }
    const raw: Record<string, string> = {};
    const obj = item as Record<string, unknown>;
    for (const [k, v] of Object.entries(obj)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') raw[k] = String(v);
      else if (v !== null && v !== undefined) {
        throw entryError(
          index,
          raw,
          `'${k}' must be a single value (a string, number or true/false), not ${Array.isArray(v) ? 'a list' : 'a mapping'}`,
        );
      }
    }
    for (const k of Object.keys(obj)) {
      if ((ENTRY_KEYS as readonly string[]).includes(k)) continue;
      const hint = didYouMean(k, ENTRY_KEYS);
      const stepOnly =
        /^(api-key|pat|organization-id|project-id|api-url|summary|annotations|images|max-parallel|fail-fast|skip-unchanged|dry-run)$/.test(
          k,
        );
      throw entryError(
        index,
        raw,
        stepOnly
          ? `'${k}' is a step input and applies to every image; set it on the step, not on an entry`
          : `unknown key '${k}'${hint ? ` (did you mean '${hint}'?)` : ''}; an entry may set ${ENTRY_KEYS.join(', ')}`,
      );
    }
    return raw;
  });
}

/** Reads and plans one entry: its inputs override the step's, except the source, which is its own. */
async function readEntry(
  src: InputSource,
  index: number,
  raw: Record<string, string>,
  fail: (problem: string, cause?: ActionError) => ActionError = (problem, cause) => entryError(index, raw, problem, cause),
): Promise<ImageEntry> {
  if (!raw.dockerfile && !raw.image) throw fail('set dockerfile (a Dockerfile build) or image (an import)');
  const overlay: InputSource = {
    env: src.env,
    run: src.run,
    workspace: src.workspace,
    input: (n) => (n in raw ? raw[n] : SOURCE_KEYS.has(n) ? '' : src.input(n)),
  };
  let inputs: ActionInputs;
  try {
    inputs = readInputs(overlay);
  } catch (e) {
    const err = toActionError(e, 'input');
    throw fail(err.message, err);
  }
  let plan: BuildPlan;
  try {
    if (inputs.source.kind === 'import') plan = planImport({ reference: inputs.source.image, name: inputs.name });
    else {
      const text = await readDockerfile(inputs.source.dockerfile, inputs.source.dockerfileInput);
      plan = planDockerfile({ text, dockerfilePath: inputs.source.dockerfile, contextDir: inputs.source.context, name: inputs.name });
      plan.dockerfilePath = inputs.source.dockerfileInput;
      await loadDockerignore(inputs.source.context, inputs.source.dockerfile);
    }
  } catch (e) {
    const err = toActionError(e, 'plan');
    const where = inputs.source.kind === 'dockerfile' ? `Dockerfile ${inputs.source.dockerfileInput}: ` : '';
    throw fail(where + err.message, err);
  }
  return { index, name: plan.name, inputs: { ...inputs, name: plan.name }, plan, deps: [], layer: 0, given: raw };
}

export interface ImagesInputs {
  entries: ImageEntry[];
  /** secrets found while reading (the step's credentials) */
  secrets: string[];
}

/** The whole `images` list, validated, with dependencies and layers; throws the first problem found. */
export async function readImageEntries(src: InputSource, yamlText: string): Promise<ImagesInputs> {
  for (const k of SOURCE_KEYS) {
    if (src.input(k).trim()) {
      throw inputError(
        'images',
        `cannot be combined with the step input '${k}': give each image its own dockerfile/context/image in the list`,
      );
    }
  }
  const raws = await parseImagesYaml(yamlText);
  const entries: ImageEntry[] = [];
  for (let i = 0; i < raws.length; i++) entries.push(await readEntry(src, i + 1, raws[i]));

  const byName = new Map<string, ImageEntry>();
  for (const e of entries) {
    const other = byName.get(e.name);
    if (other) {
      throw entryError(
        e.index,
        e.given,
        `the image name '${e.name}' is also the name of entry ${other.index}; every image needs its own name (set name on one of them)`,
      );
    }
    byName.set(e.name, e);
  }
  for (const e of entries) {
    // a Dockerfile built on its own name (a diff on its previous version) is not a dependency
    e.deps = [...new Set(e.plan.lookupRefs.filter((r) => r !== e.name && byName.has(r)))];
    if (e.deps.length && e.inputs.streaming) {
      throw entryError(
        e.index,
        e.given,
        `streaming builds support only base images, but this Dockerfile builds on ${e.deps.map((d) => `'${d}'`).join(', ')} from this list; set streaming: false on this entry, or base it on an OCI image`,
      );
    }
    for (const d of e.deps) {
      const parent = byName.get(d)!;
      if (parent.inputs.streaming) {
        throw entryError(
          e.index,
          e.given,
          `builds on '${d}' (entry ${parent.index}), which is a streaming (cas-streaming) image; only ext4 templates can be parents: set streaming: false on entry ${parent.index}`,
        );
      }
    }
  }
  const layers = dependencyLayers(entries.map((e) => ({ name: e.name, deps: e.deps })));
  if ('cycle' in layers) {
    throw inputError(
      'images',
      `the images depend on each other in a cycle: ${layers.cycle.join(' → ')}; an image cannot be built on itself`,
    );
  }
  for (const e of entries) e.layer = layers.layer.get(e.name)!;
  return { entries, secrets: entries[0].inputs.secrets };
}

/** The step's own inputs as the one entry of a single-image step (skip-unchanged, dry-run). */
export async function singleImageEntry(src: InputSource): Promise<ImageEntry> {
  const given: Record<string, string> = {};
  for (const k of ENTRY_KEYS) {
    const v = src.input(k).trim();
    if (v) given[k] = v;
  }
  if (!given.dockerfile && !given.image) given.dockerfile = 'Dockerfile';
  return readEntry(
    src,
    1,
    given,
    (problem, cause) => new ActionError(problem, { kind: cause?.kind ?? 'input', advice: cause?.advice, cause }),
  );
}
