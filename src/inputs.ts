/**
 * Typed, validated action inputs of one image and of a step's orchestration. Every bad value fails
 * here, before any network call, with an error that names the input and what was wrong. Reading is
 * pure (src/input-readers.ts); credentials and the endpoint are read by src/connection.ts.
 */
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, resolve, dirname, parse, relative } from 'node:path';
import { imageNameProblem } from './dockerfile/naming.js';
import { oneLine } from './report/untrusted.js';
import { noCredentialsError, readAuth, readEndpoint, type Auth } from './connection.js';
import { boolInput, durationInput, inputError, positiveNumber, type InputSource } from './input-readers.js';

export type Source =
  { kind: 'dockerfile'; dockerfile: string; dockerfileInput: string; context: string } | { kind: 'import'; image: string };

/** Why a run is plan-only: asked for (`dry-run: true`), or a fork's pull request without credentials (`auto`). */
export interface DryRun {
  reason: 'input' | 'fork-without-credentials';
}

/** What the PR features (commit status, PR comment) need; used only for those GitHub calls. */
export interface FeedbackInputs {
  /** '' when none is available (local runs) */
  githubToken: string;
  commitStatus: boolean;
  /** the status context as given ('' = the default, `sandbox-image/<image name>`); `{image}` is replaced by the image name */
  statusContext: string;
  prComment: boolean;
}

export interface ActionInputs {
  source: Source;
  name?: string;
  streaming: boolean;
  /** absent only in a plan-only run without credentials */
  auth?: Auth;
  /** set: run the local phases only (plan, package); no request to the platform */
  dryRun?: DryRun;
  feedback: FeedbackInputs;
  apiUrl: string;
  namespace: string;
  public: boolean;
  diskMb?: number;
  builderDiskMb?: number;
  cpus?: number;
  memoryMb?: number;
  dockerCompat: boolean;
  registryCredentials: boolean;
  wait: boolean;
  admissionTimeoutMs: number;
  pollIntervalMs: number;
  buildTimeoutMs: number;
  /** limit for the builder sandbox to reach running, and again for its proxy to answer */
  sandboxTimeoutMs: number;
  summary: boolean;
  annotations: boolean;
  /** Secret values found while reading (API key / PAT), to be masked before anything prints. */
  secrets: string[];
  /** A Dockerfile or context outside the workspace and RUNNER_TEMP: said in planning, with the resolved path. */
  pathWarnings: string[];
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * `dry-run`: `true` is plan-only; `auto` (default) is plan-only only when there are no credentials
 * and the run is a pull_request from a fork (GitHub gives such runs no secrets); `false` never.
 */
function readDryRun(src: InputSource, hasCredentials: boolean): DryRun | undefined {
  const raw = src.input('dry-run').trim().toLowerCase() || 'auto';
  if (raw !== 'auto' && !/^(true|false|yes|no|on|off|1|0)$/.test(raw)) {
    throw inputError('dry-run', `expected auto, true or false, got '${src.input('dry-run').trim()}'`);
  }
  if (raw === 'auto') {
    const pr = src.run?.pullRequest;
    return !hasCredentials && src.run?.eventName === 'pull_request' && pr?.fromFork ? { reason: 'fork-without-credentials' } : undefined;
  }
  return boolInput(src, 'dry-run', false) ? { reason: 'input' } : undefined;
}

function readFeedback(src: InputSource): FeedbackInputs {
  const statusContext = src.input('status-context').trim();
  if (statusContext.length > 255 || /[\x00-\x1f]/.test(statusContext)) {
    throw inputError('status-context', 'must be at most 255 characters without control characters');
  }
  const githubToken = src.input('github-token').trim();
  const commitStatus = boolInput(src, 'commit-status', false);
  const prComment = boolInput(src, 'pr-comment', false);
  if ((commitStatus || prComment) && /[\s\x00-\x1f]/.test(githubToken)) {
    throw inputError('github-token', 'contains whitespace or control characters (check the secret for a trailing newline)');
  }
  return { githubToken, commitStatus, statusContext, prComment };
}

/** The real path (symlinks resolved), or the path itself when it cannot be resolved. */
function realPath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * A Dockerfile or context that resolves outside the workspace and RUNNER_TEMP (where generated
 * Dockerfiles legitimately live) is allowed, but said, naming the resolved path: a workflow
 * reading `../../etc/passwd` should not go unnoticed.
 */
function outsideWarnings(src: InputSource, paths: { dockerfile: string; context: string }): string[] {
  const roots = [src.workspace, src.env.RUNNER_TEMP].filter((r): r is string => !!r?.trim()).map(realPath);
  const out: string[] = [];
  for (const [input, p] of [
    ['dockerfile', paths.dockerfile],
    ['context', paths.context],
  ] as const) {
    const real = realPath(p);
    if (!roots.some((r) => within(real, r)))
      out.push(`Input '${input}' resolves to ${real}, outside the workspace${src.env.RUNNER_TEMP ? ' and RUNNER_TEMP' : ''}`);
  }
  return out;
}

export function readInputs(src: InputSource): ActionInputs {
  const secrets: string[] = [];
  const pathWarnings: string[] = [];
  const image = src.input('image').trim();
  const dockerfileRaw = src.input('dockerfile').trim();
  const contextRaw = src.input('context').trim();

  let source: Source;
  if (image) {
    if (dockerfileRaw || contextRaw) {
      throw inputError(
        'image',
        `import mode (image: ${image}) cannot be combined with ${dockerfileRaw ? 'dockerfile' : 'context'}; set either image, or dockerfile/context`,
      );
    }
    if (/\s/.test(image)) throw inputError('image', `'${image}' is not an image reference (contains whitespace)`);
    source = { kind: 'import', image };
  } else {
    const dockerfileInput = dockerfileRaw || 'Dockerfile';
    const dockerfile = isAbsolute(dockerfileInput) ? dockerfileInput : resolve(src.workspace, dockerfileInput);
    if (!isFile(dockerfile)) {
      throw inputError(
        'dockerfile',
        `Dockerfile not found: ${dockerfileInput} (looked for ${dockerfile}; paths are relative to the workspace${dockerfileRaw ? '' : ', and the default is Dockerfile'})`,
      );
    }
    const context = contextRaw ? (isAbsolute(contextRaw) ? contextRaw : resolve(src.workspace, contextRaw)) : dirname(dockerfile);
    if (!isDir(context))
      throw inputError('context', `Local build context not found: ${contextRaw || context} (must be an existing directory)`);
    if (realPath(context) === parse(realPath(context)).root)
      throw inputError(
        'context',
        `'${contextRaw || context}' is the filesystem root: the whole machine would be the build context; use the directory of the project`,
      );
    source = { kind: 'dockerfile', dockerfile, dockerfileInput, context };
    pathWarnings.push(...outsideWarnings(src, { dockerfile, context }));
  }

  const name = src.input('name').trim() || undefined;
  const nameProblem = name === undefined ? undefined : imageNameProblem(name);
  if (name !== undefined && nameProblem !== undefined) {
    throw inputError('name', `'${oneLine(name)}' is not a valid image name (${nameProblem})`);
  }

  const auth = readAuth(src);
  const dryRun = readDryRun(src, auth !== undefined);
  if (!auth && !dryRun) throw noCredentialsError();
  if (auth) secrets.push(auth.token);
  const { apiUrl, namespace } = readEndpoint(src);
  const feedback = readFeedback(src);
  if (feedback.githubToken) secrets.push(feedback.githubToken);

  const diskMb = positiveNumber(src, 'disk-mb', { integer: true, max: 8 * 1024 * 1024 });
  const builderDiskMb = positiveNumber(src, 'builder-disk-mb', { integer: true, max: 8 * 1024 * 1024 });
  const cpus = positiveNumber(src, 'cpus', { integer: false, min: 0.25, max: 256 });
  const memoryMb = positiveNumber(src, 'memory-mb', { integer: true, min: 128, max: 4 * 1024 * 1024 });

  const inputs: ActionInputs = {
    source,
    name,
    streaming: boolInput(src, 'streaming', false),
    auth,
    dryRun,
    feedback,
    apiUrl,
    namespace,
    public: boolInput(src, 'public', false),
    diskMb,
    builderDiskMb,
    cpus,
    memoryMb,
    dockerCompat: boolInput(src, 'docker-compat', false),
    registryCredentials: boolInput(src, 'registry-credentials', true),
    wait: boolInput(src, 'wait', true),
    admissionTimeoutMs: durationInput(src, 'admission-timeout', { dflt: '30m', minMs: 1000, maxMs: 24 * 3_600_000 }),
    pollIntervalMs: durationInput(src, 'poll-interval', { dflt: '3s', minMs: 100, maxMs: 3_600_000 }),
    buildTimeoutMs: durationInput(src, 'build-timeout', { dflt: '60m', minMs: 1000, maxMs: 24 * 3_600_000 }),
    sandboxTimeoutMs: durationInput(src, 'sandbox-timeout', { dflt: '2m', minMs: 1000, maxMs: 3_600_000 }),
    summary: boolInput(src, 'summary', true),
    annotations: boolInput(src, 'annotations', true),
    secrets,
    pathWarnings,
  };
  return inputs;
}

/** How a step with several images (or skip-unchanged / dry-run) runs them. */
export interface OrchestrationInputs {
  /** the raw `images` YAML, '' for a single-image step */
  images: string;
  maxParallel: number;
  failFast: boolean;
  skipUnchanged: boolean;
  dryRun: boolean;
  summary: boolean;
  annotations: boolean;
}

export function readOrchestration(src: InputSource): OrchestrationInputs {
  return {
    images: src.input('images').trim(),
    maxParallel: positiveNumber(src, 'max-parallel', { integer: true, min: 1, max: 64 }) ?? 4,
    failFast: boolInput(src, 'fail-fast', false),
    skipUnchanged: boolInput(src, 'skip-unchanged', false),
    // the same rule as each image's (dry-run auto: plan only for a fork's pull_request without credentials)
    dryRun: readDryRun(src, readAuth(src) !== undefined) !== undefined,
    summary: boolInput(src, 'summary', true),
    annotations: boolInput(src, 'annotations', true),
  };
}
