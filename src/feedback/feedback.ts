/**
 * The PR features: a commit status per image (pending when the build starts, then its outcome) and
 * one sticky comment per pull request and image. Driven by build results, never changing them:
 * every GitHub failure becomes a warning (403/404 naming the permission to add), every call is
 * bounded by the caller's signal (a cancelled job still exits in time), and nothing throws.
 *
 * Takes lists of images, so one step building several images reports each on its own.
 */
import type { FeedbackInputs } from '../inputs.js';
import type { Log } from '../log.js';
import type { SecretRegistry } from '../secrets.js';
import type { RetryPolicy } from '../platform/retry.js';
import { isLoopbackHost } from '../platform/urls.js';
import { connectGitHub, GitHubError, type GitHubApi, type GitHubApiOptions } from './github-api.js';
import { commentMarker, finalStatus, pendingStatus, renderComment, statusContext, type ImageOutcome } from './render.js';
import { PR_EVENTS, STATUS_EVENTS, type RunContext } from './run-context.js';

export type { ImageOutcome } from './render.js';

export interface FeedbackPorts {
  log: Log;
  /** a notice annotation: said once when a feature the user turned on cannot do anything */
  notice: (message: string) => void;
  secrets: SecretRegistry;
  env: Record<string, string | undefined>;
  userAgent: string;
  retry?: Partial<RetryPolicy>;
  sleep?: GitHubApiOptions['sleep'];
  /** replaces the real client (tests) */
  connect?: (opts: GitHubApiOptions) => Promise<GitHubApi>;
}

interface Targets {
  /** the commit statuses go on */
  sha?: string;
  /** the pull request comments go on */
  issue?: number;
}

const FEATURE_EVENTS = 'pull_request, pull_request_target and push';

/** Which feature has anything to do on this run, saying once why one that is on does not. */
function resolveTargets(inputs: FeedbackInputs, ctx: RunContext, ports: FeedbackPorts): Targets {
  const wanted = [inputs.commitStatus && 'commit-status', inputs.prComment && 'pr-comment'].filter(Boolean).join(' and ');
  if (!wanted) return {};
  const nothing = (why: string): Targets => {
    ports.notice(`${wanted} ${inputs.commitStatus && inputs.prComment ? 'do' : 'does'} nothing here: ${why}.`);
    return {};
  };
  if (!STATUS_EVENTS.has(ctx.eventName)) {
    return nothing(
      `${ctx.eventName ? `'${ctx.eventName}' events` : 'outside a workflow run'} have no pull request or pushed commit to report on (they work on ${FEATURE_EVENTS})`,
    );
  }
  if (ctx.payloadProblem) return nothing(ctx.payloadProblem);
  if (!/^[^/\s]+\/[^/\s]+$/.test(ctx.repository)) return nothing('GITHUB_REPOSITORY does not name the repository');
  if (!inputs.githubToken) {
    ports.log.warning(`${wanted}: github-token is empty, so nothing is written to GitHub (the default is \${{ github.token }}).`);
    return {};
  }
  const targets: Targets = {};
  if (inputs.commitStatus) targets.sha = ctx.statusSha;
  if (inputs.prComment) {
    if (PR_EVENTS.has(ctx.eventName)) targets.issue = ctx.pullRequest?.number;
    else
      ports.notice(
        `pr-comment does nothing on ${ctx.eventName} events (there is no pull request); ${inputs.commitStatus ? 'the commit status is written' : 'commit-status can report on the pushed commit'}.`,
      );
  }
  return targets;
}

function apiUrlOf(env: Record<string, string | undefined>): string | { problem: string } {
  const raw = (env.GITHUB_API_URL ?? '').trim().replace(/\/+$/, '') || 'https://api.github.com';
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { problem: `GITHUB_API_URL '${raw}' is not a URL` };
  }
  if (u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname))) return raw;
  return { problem: `GITHUB_API_URL '${raw}' is not https:// (the token would travel unencrypted)` };
}

export class PrFeedback {
  private readonly targets: Targets;
  private api?: Promise<GitHubApi | undefined>;
  private begun: Promise<void> = Promise.resolve();
  /** per image: the comment already found or written (so a second write updates it) */
  private readonly comments = new Map<string, number>();

  /**
   * `signal` bounds every GitHub call of the run, retries included: the caller aborts it when time
   * is up (a few seconds after a cancel, so the job still exits in time).
   */
  constructor(
    private readonly inputs: FeedbackInputs,
    private readonly ctx: RunContext,
    private readonly ports: FeedbackPorts,
    private readonly signal: AbortSignal,
  ) {
    this.targets = resolveTargets(inputs, ctx, ports);
  }

  /** True when anything will be written to GitHub on this run. */
  get active(): boolean {
    return this.targets.sha !== undefined || this.targets.issue !== undefined;
  }

  /** `pending` statuses for the images about to be built. Runs in the background; `finish` waits for it. */
  begin(images: string[]): void {
    const sha = this.targets.sha;
    if (sha === undefined || images.length === 0) return;
    this.begun = this.withApi(async (api) => {
      await Promise.all(
        images.map((image) =>
          this.attempt('statuses', image, () =>
            api.createStatus({ sha, context: this.context(image), ...pendingStatus(image), targetUrl: this.ctx.runUrl }),
          ),
        ),
      );
    });
  }

  /** The final status and the comment for each image; resolves (never rejects) when done or out of time. */
  async finish(outcomes: ImageOutcome[]): Promise<void> {
    if (!this.active || outcomes.length === 0) return;
    await this.begun;
    const { sha, issue } = this.targets;
    const redact = (s: string) => this.ports.secrets.redact(s);
    await this.withApi(async (api) => {
      await Promise.all(
        outcomes.map(async (o) => {
          if (sha !== undefined) {
            await this.attempt('statuses', o.image, () =>
              api.createStatus({ sha, context: this.context(o.image), ...finalStatus(o, redact), targetUrl: this.ctx.runUrl }),
            );
          }
          if (issue !== undefined) {
            const body = renderComment(o, { runUrl: this.ctx.runUrl, sha: this.ctx.statusSha, redact });
            await this.attempt('comments', o.image, () => this.upsertComment(api, issue, o.image, body));
          }
        }),
      );
    });
  }

  private context(image: string): string {
    return statusContext(this.inputs.statusContext, image);
  }

  private async upsertComment(api: GitHubApi, issue: number, image: string, body: string): Promise<void> {
    const marker = commentMarker(image);
    let id = this.comments.get(image) ?? (await api.findComment(issue, (b) => b.includes(marker)))?.id;
    if (id !== undefined) {
      await api.updateComment(id, body);
      this.ports.log.info(`GitHub: updated the pull request comment for ${image}.`);
    } else {
      id = (await api.createComment(issue, body)).id;
      this.ports.log.info(`GitHub: commented on pull request #${issue} for ${image}.`);
    }
    this.comments.set(image, id);
  }

  /** The client, made once; undefined (with a warning) when it cannot be. */
  private async withApi(use: (api: GitHubApi) => Promise<void>): Promise<void> {
    this.api ??= (async () => {
      const apiUrl = apiUrlOf(this.ports.env);
      if (typeof apiUrl !== 'string') {
        this.ports.log.warning(`Nothing is written to GitHub: ${apiUrl.problem}.`);
        return undefined;
      }
      const connect = this.ports.connect ?? connectGitHub;
      return connect({
        token: this.inputs.githubToken,
        apiUrl,
        repository: this.ctx.repository,
        secrets: this.ports.secrets,
        log: this.ports.log,
        userAgent: this.ports.userAgent,
        retry: this.ports.retry,
        sleep: this.ports.sleep,
        signal: this.signal,
      });
    })().catch((e: unknown) => {
      this.ports.log.warning(`Nothing is written to GitHub: the GitHub client could not start: ${this.ports.secrets.redact(String(e))}`);
      return undefined;
    });
    const api = await this.api;
    if (api) await use(api);
  }

  private async attempt(what: 'statuses' | 'comments', image: string, call: () => Promise<void>): Promise<void> {
    if (this.signal.aborted) {
      this.ports.log.warning(this.failureText(what, image, undefined, true));
      return;
    }
    try {
      await call();
    } catch (e) {
      this.ports.log.warning(this.failureText(what, image, e, this.signal.aborted));
    }
  }

  private failureText(what: 'statuses' | 'comments', image: string, e: unknown, outOfTime: boolean): string {
    const thing = what === 'statuses' ? 'commit status' : 'pull request comment';
    const permission = what === 'statuses' ? 'statuses: write' : 'pull-requests: write';
    const head = `GitHub: the ${thing} for ${image} was not written`;
    if (outOfTime) return `${head}: no time left (the job is ending).`;
    const status = e instanceof GitHubError ? e.status : 0;
    const message = this.ports.secrets.redact(e instanceof Error ? e.message : String(e));
    if (status === 403 || status === 404) {
      const fork = this.ctx.pullRequest?.fromFork
        ? ` This pull request comes from a fork: on pull_request events GitHub gives it a read-only token whatever the permissions say; pull_request_target runs with the base repository's token.`
        : '';
      return `${head}: GitHub answered ${status} (${message}). The token needs \`${permission}\`: add it to the job's \`permissions:\`.${fork}`;
    }
    return `${head}: ${message}`;
  }
}
