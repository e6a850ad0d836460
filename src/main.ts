/**
 * run(): inputs → pipeline → report. The only place that touches the process (signals, exit code)
 * and GitHub's runner files (through @actions/core).
 */
import * as actionsCore from '@actions/core';
import { ActionError, formatError, toActionError } from './errors.js';
import { readInputs, type ActionInputs } from './inputs.js';
import { SecretRegistry } from './secrets.js';
import type { Log } from './log.js';
import { runBuild, type BuildDeps } from './pipeline/pipeline.js';
import type { BuildResult } from './pipeline/result.js';
import { GitHubReporter } from './report/reporter.js';
import { resultOutputs } from './report/outputs.js';
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

/** Secret-looking inputs are masked before anything else runs, even before validation. */
function maskRawSecrets(
  core: { getInput(name: string): string; setSecret(v: string): void },
  env: Record<string, string | undefined>,
  secrets: SecretRegistry,
): void {
  for (const name of ['api-key', 'pat']) secrets.add(core.getInput(name));
  for (const name of ['TENSORLAKE_API_KEY', 'TENSORLAKE_PAT']) secrets.add(env[name]);
}

export async function run(options: RunOptions = {}): Promise<BuildResult | undefined> {
  // every info line is neutralised: text from outside can never issue a workflow command
  const core = guardedCore(options.core ?? actionsCore);
  const env = options.env ?? process.env;
  const signals = options.signals ?? process;
  const writeSummary = options.writeSummary ?? defaultWriteSummary;
  const secrets = new SecretRegistry((v) => core.setSecret(v));
  maskRawSecrets(core, env, secrets);
  const redact = (s: string) => secrets.redact(s);

  let inputs: ActionInputs;
  try {
    inputs = readInputs({ input: (n) => core.getInput(n), env, workspace: env.GITHUB_WORKSPACE || process.cwd() });
  } catch (e) {
    const err = toActionError(e, 'input');
    const text = formatError(err, redact);
    core.setOutput('status', 'failed');
    core.setOutput('error', text);
    await writeSummary(redact(`## ❌ Tensorlake sandbox image: invalid input\n\n${fencedBlock(text)}\n`)).catch(() => undefined);
    core.setFailed(text);
    return undefined;
  }
  for (const s of inputs.secrets) secrets.add(s);

  const reporter = new GitHubReporter(core, { annotations: inputs.annotations, redact });
  const log: Log = {
    debug: (m) => core.debug(redact(m)),
    info: (m) => core.info(redact(m)),
    warning: (m) => core.warning(redact(m)),
  };

  const controller = new AbortController();
  let signalled: string | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) return;
    signalled = sig;
    core.info(`Received ${sig}: cancelling the build and deleting the builder sandbox...`);
    controller.abort();
  };
  signals.on('SIGINT', onSignal);
  signals.on('SIGTERM', onSignal);

  let result: BuildResult;
  try {
    result = await runBuild(inputs, {
      events: reporter,
      secrets,
      log,
      env,
      signal: controller.signal,
      userAgent: USER_AGENT,
      ...options.deps,
    });
  } finally {
    signals.off('SIGINT', onSignal);
    signals.off('SIGTERM', onSignal);
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

export { ActionError };
