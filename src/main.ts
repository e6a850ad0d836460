/**
 * run(): inputs → pipeline → report. The only place that touches the process (signals, exit code)
 * and GitHub's runner files (through @actions/core).
 */
import * as actionsCore from '@actions/core';
import { ActionError, formatError, toActionError } from './errors.js';
import { readInputs, readOrchestration, type ActionInputs, type InputSource, type OrchestrationInputs } from './inputs.js';
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

  const source: InputSource = { input: (n) => core.getInput(n), env, workspace: env.GITHUB_WORKSPACE || process.cwd() };
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
      if (orchestration.skipUnchanged || orchestration.dryRun) entries = [await singleImageEntry(source)];
    }
  } catch (e) {
    return invalidInput(e);
  }
  for (const s of inputs.secrets) secrets.add(s);
  if (entries) {
    await runImagesStep(core, entries, orchestration, { env, signals, writeSummary, secrets, deps: options.deps });
    return undefined;
  }

  const postState = new PostStateWriter((key, value) => core.saveState(key, value));
  const reporter = new GitHubReporter(core, { annotations: inputs.annotations, redact, postState });
  const log: Log = {
    debug: (m) => core.debug(redact(m)),
    info: (m) => core.info(redact(m)),
    warning: (m) => core.warning(redact(m)),
  };

  const cancel = cancelOnSignals(signals, core, 'the build and deleting the builder sandbox');
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
    cancel.dispose();
    reporter.close();
  }

  const outputs = resultOutputs(result);
  for (const [k, v] of Object.entries(outputs)) core.setOutput(k, redact(v));

  if (result.error) {
    const err = result.error;
    if (err.kind === 'plan') {
      const m = /^line (\d+):/.exec(err.message);
      reporter.errorAnnotation(err.message, {
        file: result.mode === 'dockerfile' && inputs.source.kind === 'dockerfile' ? inputs.source.dockerfileInput : undefined,
        line: m ? Number(m[1]) : undefined,
        title: 'Dockerfile error',
      });
    }
  }
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

/** SIGINT/SIGTERM abort the returned signal (once); dispose() stops listening. */
function cancelOnSignals(signals: Pick<NodeJS.Process, 'on' | 'off'>, core: { info(m: string): void }, what: string) {
  const controller = new AbortController();
  let signalled: string | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) return;
    signalled = sig;
    core.info(`Received ${sig}: cancelling ${what}...`);
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
  const cancel = cancelOnSignals(ctx.signals, core, `the builds and deleting their builder sandboxes`);
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
    cancel.dispose();
    for (const p of ports.values()) p.reporter.close();
    shared?.flush();
  }

  for (const [k, v] of Object.entries(imagesStepOutputs(outcomes, { many, dryRun: o.dryRun }))) core.setOutput(k, redact(v));
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

export { ActionError };
