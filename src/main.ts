/**
 * run(): inputs → pipeline → report. The only place that touches the process (signals, exit code)
 * and GitHub's runner files (through @actions/core).
 * The several-images step lives in src/images/step.ts; this file reads the inputs, runs one image's
 * pipeline and reports it.
 */
import { planErrorLine } from './dockerfile/plan.js';
import * as actionsCore from '@actions/core';
import { formatError, toActionError } from './errors.js';
import type { InputSource } from './input-readers.js';
import { readInputs, readOrchestration, type ActionInputs, type DryRun, type OrchestrationInputs } from './inputs.js';
import { readRunContext, type RunContext } from './feedback/run-context.js';
import { PrFeedback } from './feedback/feedback.js';
import { defaultNameForDockerfile, defaultNameForImport } from './dockerfile/naming.js';
import { readImageEntries, singleImageEntry, type ImageEntry } from './images/entries.js';
import { runImagesStep } from './images/step.js';
import { FeedbackWindow } from './feedback/window.js';
import { registerCredentials, SecretRegistry } from './secrets.js';
import { redactingLog } from './log.js';
import { runBuild } from './pipeline/pipeline.js';
import type { BuildResult } from './pipeline/result.js';
import { PostStateWriter } from './post-state.js';
import { GitHubReporter } from './report/reporter.js';
import { resultOutputs } from './report/outputs.js';
import { renderSummary } from './report/summary.js';
import { guardedCore } from './report/core-port.js';
import { cancelOnSignals } from './signals.js';
import { fencedBlock } from './report/untrusted.js';
import { USER_AGENT } from './version.js';

async function writeSummary(markdown: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  await actionsCore.summary.addRaw(markdown, true).write();
}

export async function run(): Promise<BuildResult | undefined> {
  // every info line is neutralised: text from outside can never issue a workflow command
  const core = guardedCore(actionsCore);
  const env = process.env;
  const signals = process;
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
  const log = redactingLog(core, redact);
  // statuses and comments: bounded by their own deadline, not the build's signal (src/feedback/window.ts)
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
        },
        signal,
      ),
  );
  if (entries) {
    await runImagesStep(core, { entries, orchestration, env, signals, writeSummary, secrets, feedback });
    return undefined;
  }

  const postState = new PostStateWriter((key, value) => core.saveState(key, value));
  const reporter = new GitHubReporter(core, { annotations: inputs.annotations, redact, postState });
  const image = imageNameOf(inputs);
  const cancel = cancelOnSignals({
    signals,
    log: core,
    what: 'the build and deleting the builder sandbox',
    onCancel: () => feedback.cancelled(),
  });
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
