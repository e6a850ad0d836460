/**
 * run(): inputs → pipeline → report. The only place that touches the process (signals, exit code)
 * and GitHub's runner files (through @actions/core).
 *
 * Over 350 lines for now: the single-image and the several-images step both live here; the
 * several-images half (runImagesStep) is the next candidate for a module of its own.
 */
import { planErrorLine } from './dockerfile/plan.js';
import * as actionsCore from '@actions/core';
import { ActionError, formatError, toActionError } from './errors.js';
import { readInputs, readOrchestration, type ActionInputs, type DryRun, type InputSource, type OrchestrationInputs } from './inputs.js';
import { readRunContext, type RunContext } from './feedback/run-context.js';
import { PrFeedback, type ImageOutcome as FeedbackOutcome } from './feedback/feedback.js';
import { defaultNameForDockerfile, defaultNameForImport } from './dockerfile/naming.js';
import { readImageEntries, singleImageEntry, type ImageEntry } from './images/entries.js';
import { runImages, type ImageOutcome } from './images/orchestrator.js';
import { SharedConsole } from './images/console.js';
import { renderImagesSummary, type ImageReport } from './report/images-report.js';
import { registerCredentials, SecretRegistry } from './secrets.js';
import type { Log } from './log.js';
import { runBuild, type BuildDeps } from './pipeline/pipeline.js';
import type { BuildResult } from './pipeline/result.js';
import { PostStateWriter } from './post-state.js';
import { GitHubReporter } from './report/reporter.js';
import { imagesStepOutputs, resultOutputs } from './report/outputs.js';
import { renderSummary } from './report/summary.js';
import { guardedCore, type CorePort } from './report/core-port.js';
import { fencedBlock } from './report/untrusted.js';
import { USER_AGENT } from './version.js';

export interface RunOptions {
  core?: CorePort & { getInput(name: string): string };
  env?: Record<string, string | undefined>;
  /** where SIGINT/SIGTERM come from (the process, unless a test drives it) */
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
  /** overrides for tests (short limits, fast retries) */
  deps?: Partial<Pick<BuildDeps, 'limits' | 'retry' | 'sleep'>>;
  writeSummary?: (markdown: string) => Promise<void>;
}

async function defaultWriteSummary(markdown: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  await actionsCore.summary.addRaw(markdown, true).write();
}

export async function run(options: RunOptions = {}): Promise<BuildResult | undefined> {
  // every info line is neutralised: text from outside can never issue a workflow command
  const core = guardedCore(options.core ?? actionsCore);
  const env = options.env ?? process.env;
  const signals = options.signals ?? process;
  const writeSummary = options.writeSummary ?? defaultWriteSummary;
  const secrets = new SecretRegistry((v) => core.setSecret(v));
  // credentials are masked before anything else runs, even before validation
  registerCredentials(secrets, (n) => core.getInput(n), env);
  const redact = (s: string) => secrets.redact(s);

  const runContext = readRunContext(env);
  const source: InputSource = { input: (n) => core.getInput(n), env, workspace: env.GITHUB_WORKSPACE || process.cwd(), run: runContext };
  const invalidInput = async (e: unknown): Promise<undefined> => {
    const err = toActionError(e, 'input');
    const text = formatError(err, redact);
    core.setOutput('status', 'failed');
    core.setOutput('error', text);
    await writeSummary(redact(`## ❌ Tensorlake sandbox image: invalid input\n\n${fencedBlock(text)}\n`)).catch(() => undefined);
    core.setFailed(text);
    return undefined;
  };
  let inputs: ActionInputs;
  let orchestration: OrchestrationInputs;
  let entries: ImageEntry[] | undefined;
  try {
    orchestration = readOrchestration(source);
    if (orchestration.images) {
      const read = await readImageEntries(source, orchestration.images);
      entries = read.entries;
      inputs = entries[0].inputs;
    } else {
      inputs = readInputs(source);
      // one image plans only on its own path; skip-unchanged goes through the orchestrator
      if (orchestration.skipUnchanged) entries = [await singleImageEntry(source)];
    }
  } catch (e) {
    return invalidInput(e);
  }
  for (const s of inputs.secrets) secrets.add(s);
  if (inputs.dryRun) core.notice(dryRunNotice(inputs.dryRun, runContext));
  const log: Log = {
    debug: (m) => core.debug(redact(m)),
    info: (m) => core.info(redact(m)),
    warning: (m) => core.warning(redact(m)),
  };
  // statuses and comments: bounded by their own deadline, not the build's signal, so a cancelled
  // build still reports and a cancelled job still exits within 5 s
  const feedback = new FeedbackWindow(
    (signal) =>
      new PrFeedback(
        inputs.feedback,
        runContext,
        {
          log,
          notice: (m) => core.notice(redact(m)),
          secrets,
          env,
          userAgent: USER_AGENT,
          retry: options.deps?.retry,
          sleep: options.deps?.sleep,
        },
        signal,
      ),
  );
  if (entries) {
    await runImagesStep(core, entries, orchestration, { env, signals, writeSummary, secrets, deps: options.deps, feedback });
    return undefined;
  }

  const postState = new PostStateWriter((key, value) => core.saveState(key, value));
  const reporter = new GitHubReporter(core, { annotations: inputs.annotations, redact, postState });
  const image = imageNameOf(inputs);
  const cancel = cancelOnSignals(signals, core, 'the build and deleting the builder sandbox', () => feedback.cancelled());
  try {
    feedback.pr.begin([image]);
    const started = Date.now();
    const result = await buildOne(started);
    return result;
  } finally {
    cancel.dispose();
    feedback.dispose();
  }

  async function buildOne(started: number): Promise<BuildResult> {
    let result: BuildResult;
    try {
      result = await runBuild(inputs, {
        events: reporter,
        secrets,
        log,
        env,
        signal: cancel.signal,
        userAgent: USER_AGENT,
        ...options.deps,
      });
    } finally {
      reporter.close();
    }
    const durationMs = Date.now() - started;

    const outputs = resultOutputs(result);
    for (const [k, v] of Object.entries(outputs)) core.setOutput(k, redact(v));

    if (result.error) {
      const err = result.error;
      if (err.kind === 'plan') {
        reporter.errorAnnotation(err.message, {
          file: result.mode === 'dockerfile' && inputs.source.kind === 'dockerfile' ? inputs.source.dockerfileInput : undefined,
          line: planErrorLine(err),
          title: 'Dockerfile error',
        });
      }
    }
    await feedback.finish([{ image, result, durationMs }]);
    if (inputs.summary) {
      await writeSummary(renderSummary(result, reporter.overflow, redact, reporter.logTail)).catch((e: unknown) =>
        core.warning(`Could not write the job summary: ${redact(toActionError(e).message)}`),
      );
    }
    if (result.error) {
      const prefix = result.status === 'cancelled' ? 'Cancelled: ' : '';
      const text = prefix + formatError(result.error, redact);
      core.setOutput('error', text);
      core.setFailed(text);
    } else if (result.status === 'ingesting') {
      core.notice(redact(`Build ${result.buildId} accepted; admission continues on the platform (wait: false).`));
    }
    return result;
  }
}

/** Time the statuses and comments may take once the builds are over. */
const FEEDBACK_MS = 60_000;
/** ... and once the run is cancelled: GitHub sends SIGTERM 7.5 s after SIGINT; the step must be gone within 5 s. */
const CANCELLED_FEEDBACK_MS = 4_000;

/** The PR feedback of one step and the deadline its GitHub calls run under. */
class FeedbackWindow {
  readonly pr: PrFeedback;
  private readonly abort = new AbortController();
  private deadline = Infinity;
  private timer?: NodeJS.Timeout;

  constructor(make: (signal: AbortSignal) => PrFeedback) {
    this.pr = make(this.abort.signal);
  }

  private limit(ms: number): void {
    if (Date.now() + ms >= this.deadline) return;
    this.deadline = Date.now() + ms;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.abort.abort(), ms);
  }

  /** the run was cancelled: a few seconds left */
  cancelled(): void {
    this.limit(CANCELLED_FEEDBACK_MS);
  }

  async finish(outcomes: FeedbackOutcome[]): Promise<void> {
    if (!this.pr.active) return;
    this.limit(FEEDBACK_MS);
    await this.pr.finish(outcomes);
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}

/** The image name known before planning (what the plan will name it): keys the status context and the comment. */
function imageNameOf(inputs: ActionInputs): string {
  if (inputs.name) return inputs.name;
  return inputs.source.kind === 'dockerfile'
    ? defaultNameForDockerfile(inputs.source.dockerfile)
    : defaultNameForImport(inputs.source.image);
}

function dryRunNotice(d: DryRun, ctx: RunContext): string {
  if (d.reason === 'input')
    return 'Plan only (dry-run: true): the Dockerfile and the build context are checked; nothing is sent to the platform.';
  return (
    `Plan only: this pull request comes from the fork ${ctx.pullRequest?.headRepo || '(unknown)'}, and GitHub gives such runs no secrets, so there are no Tensorlake credentials. ` +
    'The Dockerfile and the build context are checked; nothing is sent to the platform (dry-run: auto; set dry-run: false to fail instead).'
  );
}

/** What the PR features report for an image the orchestrator did not build (skipped, not started). */
function feedbackResult(o: ImageOutcome): BuildResult {
  if (o.result) return o.result;
  const status = o.status === 'cancelled' ? 'cancelled' : 'failed';
  return {
    status,
    name: o.entry.name,
    mode: o.entry.plan.mode,
    rootfsFormat: o.entry.inputs.streaming ? 'cas-streaming' : 'ext4',
    baseImage: o.entry.plan.baseImage,
    sandboxDeleted: true,
    warnings: [],
    timings: [],
    admissionPolls: 0,
    error: new ActionError(o.reason ?? `not built (${o.status})`, { kind: status === 'cancelled' ? 'cancelled' : 'usage' }),
  };
}

/** SIGINT/SIGTERM abort the returned signal (once, telling `onCancel` first); dispose() stops listening. */
function cancelOnSignals(
  signals: Pick<NodeJS.Process, 'on' | 'off'>,
  core: { info(m: string): void },
  what: string,
  onCancel?: () => void,
) {
  const controller = new AbortController();
  let signalled: string | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) return;
    signalled = sig;
    core.info(`Received ${sig}: cancelling ${what}...`);
    onCancel?.();
    controller.abort();
  };
  signals.on('SIGINT', onSignal);
  signals.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      signals.off('SIGINT', onSignal);
      signals.off('SIGTERM', onSignal);
    },
  };
}

interface ImagesStepContext {
  env: Record<string, string | undefined>;
  signals: Pick<NodeJS.Process, 'on' | 'off'>;
  writeSummary: (markdown: string) => Promise<void>;
  secrets: SecretRegistry;
  deps?: RunOptions['deps'];
  feedback: FeedbackWindow;
}

/**
 * Several images (the `images` input), or one with skip-unchanged / dry-run: the orchestrator runs
 * the pipeline per image; each image's log goes to its own groups, prefixed with its name when
 * there are several.
 */
async function runImagesStep(
  core: CorePort,
  entries: ImageEntry[],
  o: OrchestrationInputs,
  ctx: ImagesStepContext,
): Promise<ImageOutcome[]> {
  const redact = (s: string) => ctx.secrets.redact(s);
  const many = o.images !== '';
  const shared = many ? new SharedConsole(core) : undefined;
  const logOf = (c: CorePort): Log => ({
    debug: (m) => c.debug(redact(m)),
    info: (m) => c.info(redact(m)),
    warning: (m) => c.warning(redact(m)),
  });
  // lines about the whole run wait their turn like an image's, so they never land inside its group
  const log = logOf(shared ? shared.port() : core);
  // one state for the step: every image's builder sandboxes land in the same lists
  const postState = new PostStateWriter((key, value) => core.saveState(key, value));
  const ports = new Map<string, { reporter: GitHubReporter; log: Log }>();
  const portFor = (e: ImageEntry) => {
    let p = ports.get(e.name);
    if (!p) {
      const c = shared ? shared.port() : core;
      p = {
        reporter: new GitHubReporter(c, { annotations: o.annotations, redact, postState, label: many ? e.name : undefined }),
        log: logOf(c),
      };
      ports.set(e.name, p);
    }
    return p;
  };
  const reporterFor = (e: ImageEntry) => portFor(e).reporter;
  if (many) {
    core.info(
      redact(
        `Building ${entries.length} images (at most ${o.maxParallel} at once${o.failFast ? ', fail-fast' : ''}${o.skipUnchanged ? ', skip-unchanged' : ''}${o.dryRun ? ', dry run' : ''}): ` +
          entries.map((e) => `${e.name}${e.deps.length ? ` (after ${e.deps.join(', ')})` : ''}`).join(', '),
      ),
    );
  }
  const cancel = cancelOnSignals(ctx.signals, core, `the builds and deleting their builder sandboxes`, () => ctx.feedback.cancelled());
  try {
    ctx.feedback.pr.begin(entries.map((e) => e.name));
    return await buildAll();
  } finally {
    cancel.dispose();
    ctx.feedback.dispose();
  }

  async function buildAll(): Promise<ImageOutcome[]> {
    let outcomes: ImageOutcome[];
    try {
      outcomes = await runImages(
        { entries, maxParallel: o.maxParallel, failFast: o.failFast, skipUnchanged: o.skipUnchanged, planOnly: o.dryRun },
        {
          eventsFor: reporterFor,
          logFor: (e) => portFor(e).log,
          note: (m, e) => {
            if (e) reporterFor(e).status(m);
            else log.info(m);
          },
          secrets: ctx.secrets,
          log,
          env: ctx.env,
          signal: cancel.signal,
          userAgent: USER_AGENT,
          ...ctx.deps,
        },
      );
    } finally {
      for (const p of ports.values()) p.reporter.close();
      shared?.flush();
    }

    for (const [k, v] of Object.entries(imagesStepOutputs(outcomes, { many, dryRun: o.dryRun }))) core.setOutput(k, redact(v));
    await ctx.feedback.finish(outcomes.map((x) => ({ image: x.entry.name, result: feedbackResult(x), durationMs: x.ms })));
    if (o.summary) {
      const reports: ImageReport[] = outcomes.map((outcome) => {
        const r = ports.get(outcome.entry.name)?.reporter;
        return { outcome, overflow: r?.overflow ?? [], logTail: r?.logTail ?? [] };
      });
      await ctx
        .writeSummary(renderImagesSummary(reports, redact, o.dryRun))
        .catch((e: unknown) => core.warning(`Could not write the job summary: ${redact(toActionError(e).message)}`));
    }
    const bad = outcomes.filter((x) => x.status === 'failed' || x.status === 'cancelled' || x.status === 'skipped');
    if (bad.length) {
      const why = (x: ImageOutcome) =>
        x.result?.error && x.status !== 'skipped'
          ? `${x.status === 'cancelled' ? 'Cancelled: ' : ''}${formatError(x.result.error)}`
          : (x.reason ?? x.status);
      const text = redact(
        many
          ? `${bad.length} of ${outcomes.length} images not built:\n${bad.map((x) => `${x.entry.name}: ${x.status}: ${why(x)}`).join('\n')}`
          : why(bad[0]),
      );
      core.setOutput('error', text);
      core.setFailed(text);
    }
    for (const x of outcomes) {
      if (x.status === 'ingesting')
        core.notice(redact(`${x.entry.name}: build ${x.result?.buildId} accepted; admission continues on the platform (wait: false).`));
    }
    return outcomes;
  }
}

export { ActionError };
