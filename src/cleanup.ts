/**
 * The post step (post-if: always): deletes every builder sandbox the main step recorded with
 * core.saveState and did not delete — because it was cancelled, crashed or was killed. Idempotent:
 * a sandbox that is already gone (404) counts as deleted. Never fails the job.
 */
import * as actionsCore from '@actions/core';
import { readConnection } from './inputs.js';
import { registerCredentials, SecretRegistry } from './secrets.js';
import { ActionError, formatError, toActionError } from './errors.js';
import { transportFor } from './platform/transport.js';
import { LifecycleApi } from './platform/lifecycle-api.js';
import type { RetryPolicy } from './platform/retry.js';
import { readPostState } from './post-state.js';
import { abortableSleep } from './signals.js';
import { USER_AGENT } from './version.js';
import { guardedCore } from './report/core-port.js';

export interface PostOptions {
  core?: Pick<typeof actionsCore, 'getInput' | 'getState' | 'info' | 'warning' | 'debug' | 'setSecret'>;
  env?: Record<string, string | undefined>;
  retry?: Partial<RetryPolicy>;
}

export async function runPost(options: PostOptions = {}): Promise<{ deleted: string[]; failed: string[] }> {
  // sandbox ids and names come from the platform: info lines are neutralised
  const core = guardedCore(options.core ?? actionsCore);
  const env = options.env ?? process.env;
  const secrets = new SecretRegistry((v) => core.setSecret(v));
  registerCredentials(secrets, (n) => core.getInput(n), env);
  const redact = (s: string) => secrets.redact(s);

  const { sandboxIds: ids, sandboxNames: names } = readPostState(
    (key) => core.getState(key),
    (m) => core.warning(m),
  );
  if (ids.length === 0 && names.length === 0) {
    core.info('No builder sandbox left to clean up.');
    return { deleted: [], failed: [] };
  }
  const deleted: string[] = [];
  const failed: string[] = [];
  const warn = (what: string, e: unknown) => core.warning(`Post step: ${what}: ${formatError(toActionError(e), redact)}`);
  let lifecycle: LifecycleApi;
  try {
    const conn = readConnection({ input: (n) => core.getInput(n), env, workspace: env.GITHUB_WORKSPACE || process.cwd() });
    const transport = transportFor(conn.auth, {
      userAgent: USER_AGENT,
      secrets,
      log: { debug: (m) => core.debug(redact(m)), info: (m) => core.info(redact(m)), warning: (m) => core.warning(redact(m)) },
      retry: { maxElapsedMs: 30_000, ...options.retry },
    });
    lifecycle = new LifecycleApi(transport, conn.apiUrl, conn.namespace);
  } catch (e) {
    warn(`cannot clean up builder sandboxes ${[...ids, ...names].join(', ')}`, e);
    return { deleted, failed: [...ids, ...names] };
  }
  // Each sandbox gets its own time budget, so one slow delete cannot starve the others.
  for (const id of ids) {
    try {
      await withinBudget((signal) => lifecycle.deleteSandbox(id, signal));
      deleted.push(id);
      core.info(`Post step: deleted builder sandbox ${id} left by the main step.`);
    } catch (e) {
      failed.push(id);
      warn(`failed to delete builder sandbox ${id}`, e);
    }
  }
  // A sandbox whose create answer never reached the main step is found by its name.
  for (const name of names) {
    try {
      let swept = await withinBudget((signal) => lifecycle.deleteByName(name, signal));
      if (swept.length === 0) {
        // a create whose answer was lost may land a moment later: look once more
        await abortableSleep(LATE_CREATE_WAIT_MS);
        swept = await withinBudget((signal) => lifecycle.deleteByName(name, signal));
      }
      if (swept.length === 0) core.info(`Post step: no builder sandbox named ${name} exists.`);
      for (const id of swept) {
        if (!deleted.includes(id)) deleted.push(id);
        core.info(`Post step: deleted builder sandbox ${id} (named ${name}) left by the main step.`);
      }
    } catch (e) {
      failed.push(name);
      warn(`could not look for builder sandboxes named ${name}`, e);
    }
  }
  return { deleted, failed };
}

const PER_SANDBOX_MS = 30_000;
const LATE_CREATE_WAIT_MS = 3_000;

/** Runs one cleanup call under its own time budget; running out is reported as such, not as "cancelled". */
async function withinBudget<T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const signal = AbortSignal.timeout(PER_SANDBOX_MS);
  try {
    return await call(signal);
  } catch (e) {
    if (signal.aborted) throw new ActionError(`no answer within ${PER_SANDBOX_MS / 1000}s`, { kind: 'timeout', cause: e });
    throw e;
  }
}
