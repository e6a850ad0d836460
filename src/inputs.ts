/**
 * Typed, validated action inputs. Every bad value fails here, before any network call, with an
 * error that names the input and what was wrong. Reading is pure: the caller passes a getter for
 * inputs and the environment, so tests and several builds per step need no global state.
 *
 * Over 350 lines on purpose: every input's rule and message in one place, so the README table and
 * the errors can be checked against one file.
 */
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, resolve, dirname, parse, relative } from 'node:path';
import { imageNameProblem } from './dockerfile/naming.js';
import { oneLine } from './report/untrusted.js';
import { ActionError } from './errors.js';
import { isLoopbackHost } from './platform/urls.js';
import type { RunContext } from './feedback/run-context.js';
import { MIN_SECRET_LENGTH } from './secrets.js';

export type Auth = { kind: 'api-key'; token: string } | { kind: 'pat'; token: string; organizationId: string; projectId: string };

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

export const DEFAULT_API_URL = 'https://api.tensorlake.ai';

export interface InputSource {
  /** The raw value of an input (as GitHub passes it: INPUT_<NAME>), '' when unset. */
  input(name: string): string;
  env: Record<string, string | undefined>;
  /** Directory relative paths are resolved against (GITHUB_WORKSPACE, else cwd). */
  workspace: string;
  /** The run's event facts (`dry-run: auto` looks at them); none outside a workflow run. */
  run?: RunContext;
}

export function inputError(input: string, problem: string): ActionError {
  return new ActionError(`Input '${input}': ${problem}`, { kind: 'input', input });
}

function boolInput(src: InputSource, name: string, dflt: boolean): boolean {
  const raw = src.input(name).trim();
  if (raw === '') return dflt;
  if (/^(true|yes|on|1)$/i.test(raw)) return true;
  if (/^(false|no|off|0)$/i.test(raw)) return false;
  throw inputError(name, `expected true or false, got '${raw}'`);
}

function positiveNumber(src: InputSource, name: string, opts: { integer: boolean; min?: number; max?: number }): number | undefined {
  const raw = src.input(name).trim();
  if (raw === '') return undefined;
  const re = opts.integer ? /^\d+$/ : /^(\d+(\.\d*)?|\.\d+)$/;
  const n = Number(raw);
  if (!re.test(raw) || !Number.isFinite(n)) {
    throw inputError(name, `expected ${opts.integer ? 'a whole number' : 'a number'}, got '${raw}'`);
  }
  const min = opts.min ?? 1;
  if (n < min) throw inputError(name, `must be at least ${min}, got ${raw}`);
  if (opts.max !== undefined && n > opts.max) throw inputError(name, `must be at most ${opts.max}, got ${raw}`);
  return n;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `90`, `90s`, `1.5m`, `2h`, `500ms`, or combinations like `1h30m`. A bare number is seconds. */
export function parseDuration(raw: string): number | undefined {
  const text = raw.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== text.length) return undefined;
  return Math.round(total);
}

function durationInput(src: InputSource, name: string, dflt: string, minMs: number, maxMs: number): number {
  const raw = src.input(name).trim() || dflt;
  const ms = parseDuration(raw);
  if (ms === undefined) throw inputError(name, `expected a duration like 90s, 30m or 1h, got '${raw}'`);
  if (ms < minMs) throw inputError(name, `must be at least ${minMs / 1000}s, got '${raw}'`);
  if (ms > maxMs) throw inputError(name, `must be at most ${maxMs / 3_600_000}h, got '${raw}'`);
  return ms;
}

/** The api-url policy, checked once here: https (plain http for loopback hosts only), no credentials; drops query/fragment, default ports and trailing slashes. */
export function normalizeApiUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw inputError('api-url', `'${raw}' is not a valid URL (expected e.g. ${DEFAULT_API_URL})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw inputError('api-url', `unsupported scheme '${url.protocol}' (use https://)`);
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw inputError(
      'api-url',
      `plain http:// is refused for '${url.hostname}': the API key would travel unencrypted. Use https:// (plain http is only accepted for loopback hosts: localhost, 127.0.0.0/8, ::1).`,
    );
  }
  if (url.username || url.password) throw inputError('api-url', 'must not contain credentials; use the api-key or pat input');
  url.search = '';
  url.hash = '';
  return url.toString().replace(/\/+$/, '');
}

function pick(src: InputSource, input: string, envName: string): string {
  return src.input(input).trim() || (src.env[envName] ?? '').trim();
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

export interface Connection {
  auth: Auth;
  apiUrl: string;
  namespace: string;
}

function noCredentialsError(): ActionError {
  return inputError(
    'api-key',
    'no credentials: set api-key (or the TENSORLAKE_API_KEY environment variable), or pat with organization-id and project-id; store them as repository secrets',
  );
}

/** The credentials the inputs (or their environment fallbacks) give, undefined when there are none. */
function readAuth(src: InputSource): Auth | undefined {
  const apiKey = pick(src, 'api-key', 'TENSORLAKE_API_KEY');
  const pat = pick(src, 'pat', 'TENSORLAKE_PAT');
  for (const [input, value] of [
    ['api-key', apiKey],
    ['pat', pat],
  ] as const) {
    if (value && /[\s\x00-\x1f]/.test(value))
      throw inputError(input, 'contains whitespace or control characters (check the secret for a trailing newline)');
    // a value this short could never be masked in logs without mangling ordinary text
    if (value && value.length < MIN_SECRET_LENGTH)
      throw inputError(input, `is too short to be a Tensorlake credential (${value.length} characters): check the secret it comes from`);
  }
  if (apiKey) return { kind: 'api-key', token: apiKey };
  if (!pat) return undefined;
  const organizationId = pick(src, 'organization-id', 'TENSORLAKE_ORGANIZATION_ID');
  const projectId = pick(src, 'project-id', 'TENSORLAKE_PROJECT_ID');
  if (!organizationId || !projectId) {
    const missing = [!organizationId && 'organization-id', !projectId && 'project-id'].filter(Boolean).join(' and ');
    throw inputError(
      missing.split(' ')[0],
      `Organization ID and project ID are required for sandbox image builds with PAT authentication: set ${missing} (or TENSORLAKE_ORGANIZATION_ID / TENSORLAKE_PROJECT_ID)`,
    );
  }
  return { kind: 'pat', token: pat, organizationId, projectId };
}

function readEndpoint(src: InputSource): { apiUrl: string; namespace: string } {
  const apiUrl = normalizeApiUrl(pick(src, 'api-url', 'TENSORLAKE_API_URL') || DEFAULT_API_URL);
  const namespace = (src.env.INDEXIFY_NAMESPACE ?? '').trim() || 'default';
  return { apiUrl, namespace };
}

/** Credentials and endpoint only: what the post step needs to delete a builder sandbox. */
export function readConnection(src: InputSource): Connection {
  const auth = readAuth(src);
  if (!auth) throw noCredentialsError();
  return { auth, ...readEndpoint(src) };
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
    admissionTimeoutMs: durationInput(src, 'admission-timeout', '30m', 1000, 24 * 3_600_000),
    pollIntervalMs: durationInput(src, 'poll-interval', '3s', 100, 3_600_000),
    buildTimeoutMs: durationInput(src, 'build-timeout', '60m', 1000, 24 * 3_600_000),
    sandboxTimeoutMs: durationInput(src, 'sandbox-timeout', '2m', 1000, 3_600_000),
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
