/**
 * The several-images step (the `images` input, or one image with skip-unchanged / dry-run): the
 * orchestrator runs the pipeline per image; each image's log goes to its own groups, prefixed with
 * its name when there are several. Reports the step's outputs, PR feedback, summary and failure.
 */
import { ActionError, formatError, toActionError } from '../errors.js';
import type { OrchestrationInputs } from '../inputs.js';
import type { FeedbackWindow } from '../feedback/window.js';
import { redactingLog, type Log } from '../log.js';
import type { BuildResult } from '../pipeline/result.js';
import { PostStateWriter } from '../post-state.js';
import type { CorePort } from '../report/core-port.js';
import { renderImagesSummary, type ImageReport } from '../report/images-report.js';
import { imagesStepOutputs } from '../report/outputs.js';
import { GitHubReporter } from '../report/reporter.js';
import type { SecretRegistry } from '../secrets.js';
import { cancelOnSignals } from '../signals.js';
import { USER_AGENT } from '../version.js';
import { SharedConsole } from './console.js';
import type { ImageEntry } from './entries.js';
import { runImages, type ImageOutcome } from './orchestrator.js';

export interface ImagesStep {
  entries: ImageEntry[];
  orchestration: OrchestrationInputs;
  env: Record<string, string | undefined>;
  signals: Pick<NodeJS.Process, 'on' | 'off'>;
  writeSummary: (markdown: string) => Promise<void>;
  secrets: SecretRegistry;
  feedback: FeedbackWindow;
}

export async function runImagesStep(core: CorePort, ctx: ImagesStep): Promise<ImageOutcome[]> {
  const { entries, orchestration: o } = ctx;
  const redact = (s: string) => ctx.secrets.redact(s);
  const many = o.images !== '';
  const shared = many ? new SharedConsole(core) : undefined;
  // lines about the whole run wait their turn like an image's, so they never land inside its group
  const log = redactingLog(shared ? shared.port() : core, redact);
  // one state for the step: every image's builder sandboxes land in the same lists
  const postState = new PostStateWriter((key, value) => core.saveState(key, value));
  const ports = new Map<string, { reporter: GitHubReporter; log: Log }>();
  const portFor = (e: ImageEntry) => {
    let p = ports.get(e.name);
    if (!p) {
      const c = shared ? shared.port() : core;
      p = {
        reporter: new GitHubReporter(c, { annotations: o.annotations, redact, postState, label: many ? e.name : undefined }),
        log: redactingLog(c, redact),
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
  const cancel = cancelOnSignals({
    signals: ctx.signals,
    log: core,
    what: 'the builds and deleting their builder sandboxes',
    onCancel: () => ctx.feedback.cancelled(),
  });
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
