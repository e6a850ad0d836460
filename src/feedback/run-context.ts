/**
 * What the workflow run says about itself: the event, the repository, the commit a status belongs
 * on and the pull request a comment belongs on, read from the runner's environment and the event
 * payload (GITHUB_EVENT_PATH). Pure apart from reading that one file; no @actions/github needed,
 * so reading it costs nothing when the PR features are off.
 */
import { readFileSync } from 'node:fs';

export interface PullRequestFacts {
  number: number;
  /** the PR's head commit: where statuses belong (GITHUB_SHA is the merge commit on pull_request) */
  headSha: string;
  /** `owner/name` of the head repository ('' when GitHub no longer knows it, e.g. a deleted fork) */
  headRepo: string;
  baseRepo: string;
  /** head repository differs from the base: GitHub hands such runs no secrets on pull_request */
  fromFork: boolean;
}

export interface RunContext {
  eventName: string;
  /** `owner/name` of the repository the workflow runs in ('' when unknown) */
  repository: string;
  /** the commit statuses go on, when the event has one */
  statusSha?: string;
  pullRequest?: PullRequestFacts;
  /** link to the run (with its attempt), for status targets and comments */
  runUrl?: string;
  /** why the payload could not be read, when it could not */
  payloadProblem?: string;
}

/** Events whose runs the PR features (commit status, comment) know how to report on. */
export const PR_EVENTS = new Set(['pull_request', 'pull_request_target']);
export const STATUS_EVENTS = new Set([...PR_EVENTS, 'push']);

const SHA_RE = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function repoName(v: unknown): string {
  return str(obj(v)?.full_name) ?? '';
}

export function readRunContext(
  env: Record<string, string | undefined>,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): RunContext {
  const eventName = (env.GITHUB_EVENT_NAME ?? '').trim();
  const repository = (env.GITHUB_REPOSITORY ?? '').trim();
  const ctx: RunContext = { eventName, repository };
  const server = (env.GITHUB_SERVER_URL ?? '').trim().replace(/\/+$/, '') || 'https://github.com';
  const runId = (env.GITHUB_RUN_ID ?? '').trim();
  if (repository && /^\d+$/.test(runId)) {
    const attempt = (env.GITHUB_RUN_ATTEMPT ?? '').trim();
    ctx.runUrl = `${server}/${repository}/actions/runs/${runId}${/^\d+$/.test(attempt) && attempt !== '1' ? `/attempts/${attempt}` : ''}`;
  }

  let payload: Record<string, unknown> | undefined;
  const path = (env.GITHUB_EVENT_PATH ?? '').trim();
  if (path) {
    try {
      payload = obj(JSON.parse(readFile(path)));
      if (!payload) ctx.payloadProblem = 'the event payload is not a JSON object';
    } catch (e) {
      ctx.payloadProblem = `the event payload (GITHUB_EVENT_PATH) cannot be read: ${(e as Error).message}`;
    }
  } else if (eventName) {
    ctx.payloadProblem = 'GITHUB_EVENT_PATH is not set';
  }

  if (PR_EVENTS.has(eventName)) {
    const pr = obj(payload?.pull_request);
    const head = obj(pr?.head);
    const base = obj(pr?.base);
    const headSha = str(head?.sha);
    const number = pr?.number;
    if (pr && headSha && SHA_RE.test(headSha) && typeof number === 'number' && Number.isSafeInteger(number) && number > 0) {
      const headRepo = repoName(head?.repo);
      const baseRepo = repoName(base?.repo) || repository;
      ctx.pullRequest = { number, headSha, headRepo, baseRepo, fromFork: headRepo.toLowerCase() !== baseRepo.toLowerCase() };
      ctx.statusSha = headSha;
    } else {
      ctx.payloadProblem ??= 'the event payload has no pull_request with a number and a head sha';
    }
  } else if (eventName === 'push') {
    // payload.after is the pushed commit (GITHUB_SHA is the same); all zeros means a deleted branch
    const sha = str(payload?.after) ?? (env.GITHUB_SHA ?? '').trim();
    if (SHA_RE.test(sha) && !/^0+$/.test(sha)) ctx.statusSha = sha;
    else ctx.payloadProblem ??= 'the push has no commit (a deleted branch?)';
  }
  return ctx;
}
