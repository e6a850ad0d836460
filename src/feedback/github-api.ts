/**
 * The few GitHub REST calls the PR features make (commit statuses; issue comments: list, create,
 * update), through @actions/github's Octokit. Octokit's requests go through the action's one HTTP
 * layer (HttpTransport as its `fetch`): the project's retry policy with Retry-After, cancellation
 * by the feedback deadline, redacted debug lines, and the token registered as a secret.
 * @actions/github is loaded only when this is called, so a run without PR features never pays for it.
 */
import { ActionError } from '../errors.js';
import type { Log } from '../log.js';
import type { SecretRegistry } from '../secrets.js';
import { HttpTransport, type RetryMode } from '../platform/transport.js';
import type { RetryPolicy } from '../platform/retry.js';

export type CommitState = 'pending' | 'success' | 'failure' | 'error';

export interface CommitStatus {
  sha: string;
  state: CommitState;
  context: string;
  description: string;
  targetUrl?: string;
}

export interface IssueComment {
  id: number;
  body: string;
}

/** The port the feedback code talks to (tests may pass a recorder). Every call throws a GitHubError on failure. */
export interface GitHubApi {
  createStatus(status: CommitStatus): Promise<void>;
  /** Pages through the PR's comments until `match` accepts one (or there are no more). */
  findComment(issue: number, match: (body: string) => boolean): Promise<IssueComment | undefined>;
  createComment(issue: number, body: string): Promise<IssueComment>;
  updateComment(id: number, body: string): Promise<void>;
}

/** A failed GitHub call: the HTTP status when GitHub answered (0 when it did not). */
export class GitHubError extends ActionError {
  constructor(
    message: string,
    readonly status: number,
    cause?: unknown,
  ) {
    super(message, { kind: status ? 'platform' : 'transport', httpStatus: status || undefined, cause });
    this.name = 'GitHubError';
  }
}

export interface GitHubApiOptions {
  token: string;
  /** GITHUB_API_URL (default https://api.github.com) */
  apiUrl: string;
  /** `owner/name` */
  repository: string;
  secrets: SecretRegistry;
  log: Log;
  userAgent: string;
  retry?: Partial<RetryPolicy>;
  /** bounds every call, retries included */
  signal: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** What each call is, for messages and its retry mode: a comment POST is not repeated unless provably unsent (no duplicates). */
function describe(method: string, url: string): { operation: string; retry: RetryMode } {
  const path = new URL(url).pathname;
  if (/\/statuses\/[^/]+$/.test(path)) return { operation: 'write the commit status', retry: 'always' };
  if (/\/issues\/comments\/\d+$/.test(path)) return { operation: 'update the pull request comment', retry: 'always' };
  if (/\/issues\/\d+\/comments$/.test(path)) {
    return method === 'POST'
      ? { operation: 'create the pull request comment', retry: 'if-unsent' }
      : { operation: 'list the pull request comments', retry: 'always' };
  }
  return { operation: `call the GitHub API (${method} ${path})`, retry: method === 'POST' ? 'if-unsent' : 'always' };
}

/** A `fetch` for Octokit that sends through the transport. */
function transportFetch(transport: HttpTransport): typeof fetch {
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = (init?.method ?? 'GET').toUpperCase() as 'GET' | 'POST' | 'PATCH';
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
    const body = typeof init?.body === 'string' ? init.body : undefined;
    const res = await transport.request({ method, url, headers, body, ...describe(method, url), scopeHeaders: false });
    const out = new Headers();
    for (const [k, v] of Object.entries(res.headers)) {
      for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) out.append(k, one);
    }
    const empty = res.status === 204 || res.status === 205 || res.status === 304;
    return new Response(empty ? null : res.body, { status: res.status, headers: out });
  };
}

function toGitHubError(e: unknown, secrets: SecretRegistry): GitHubError {
  const err = e as { status?: unknown; message?: unknown; cause?: unknown };
  const cause = err?.cause instanceof ActionError ? err.cause : undefined;
  // a request that never got an answer arrives as Octokit's status 500 around the transport's error
  if (cause) return new GitHubError(secrets.redact(cause.message), 0, e);
  const status = typeof err?.status === 'number' ? err.status : 0;
  const message = typeof err?.message === 'string' && err.message ? err.message : String(e);
  return new GitHubError(secrets.redact(message), status, e);
}

export async function connectGitHub(opts: GitHubApiOptions): Promise<GitHubApi> {
  const [owner, repo] = opts.repository.split('/');
  const transport = new HttpTransport({
    token: opts.token,
    userAgent: opts.userAgent,
    secrets: opts.secrets,
    log: opts.log,
    retry: opts.retry,
    signal: opts.signal,
    sleep: opts.sleep,
    onRetry: (i) => opts.log.info(`GitHub: ${i.operation}: ${i.reason}; retrying in ${Math.round(i.delayMs)} ms`),
  });
  const { getOctokit } = await import('@actions/github');
  const quiet = (m: string) => opts.log.debug(opts.secrets.redact(`GitHub client: ${m}`));
  const octokit = getOctokit(opts.token, {
    baseUrl: opts.apiUrl,
    userAgent: opts.userAgent,
    request: { fetch: transportFetch(transport) },
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
  });
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw toGitHubError(e, opts.secrets);
    }
  };
  return {
    createStatus: (s) =>
      call(async () => {
        await octokit.rest.repos.createCommitStatus({
          owner,
          repo,
          sha: s.sha,
          state: s.state,
          context: s.context,
          description: s.description,
          ...(s.targetUrl ? { target_url: s.targetUrl } : {}),
        });
      }),
    findComment: (issue, match) =>
      call(async () => {
        const pages = octokit.paginate.iterator(octokit.rest.issues.listComments, { owner, repo, issue_number: issue, per_page: 100 });
        for await (const page of pages) {
          const hit = page.data.find((c) => typeof c.body === 'string' && match(c.body));
          if (hit) return { id: hit.id, body: hit.body ?? '' };
        }
        return undefined;
      }),
    createComment: (issue, body) =>
      call(async () => {
        const res = await octokit.rest.issues.createComment({ owner, repo, issue_number: issue, body });
        return { id: res.data.id, body: res.data.body ?? body };
      }),
    updateComment: (id, body) =>
      call(async () => {
        await octokit.rest.issues.updateComment({ owner, repo, comment_id: id, body });
      }),
  };
}
