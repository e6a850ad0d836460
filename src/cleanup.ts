/**
 * The post step (post-if: always): deletes every builder sandbox the main step recorded with
 * core.saveState and did not delete — because it was cancelled, crashed or was killed. Idempotent:
 * a sandbox that is already gone (404) counts as deleted. Never fails the job.
 */
import * as actionsCore from '@actions/core';
import { readConnection } from './connection.js';
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

  const {
    sandboxIds: ids,
    sandboxNames: names,
    namedAt,
  } = readPostState(
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
  // A sandbox whose create answer never reached the main step is found by its name. The create may
  // still land after the main step ended: keep looking until the landing window closes
  // (docs/protocol.md, "Post step sweep window").
  for (const name of names) {
    try {
      // without a recorded time (an older main step), two looks 3 s apart as before
      const at = namedAt[name];
      const windowEnd = Math.max(at !== undefined ? at + LATE_CREATE_WINDOW_MS : 0, Date.now() + LATE_CREATE_MIN_WAIT_MS);
      let swept = await withinBudget((signal) => lifecycle.deleteByName(name, signal));
      for (let looks = 1; swept.length === 0 && Date.now() < windowEnd; looks++) {
        if (looks === 1)
          core.info(`Post step: no builder sandbox named ${name} yet; looking again until ${new Date(windowEnd).toISOString()}.`);
        await abortableSleep(Math.min(LATE_CREATE_POLL_MS, Math.max(0, windowEnd - Date.now())));
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
/**
 * How long after the main step sent a create the post step looks for the sandbox it may have made
 * (docs/protocol.md, "Post step sweep window"). A create landing later than this is not swept; the
 * sandbox's own `timeout_secs` (300 s) still ends it.
 */
export const LATE_CREATE_WINDOW_MS = 60_000;
/** the post step looks at least twice, this far apart, even when the window has passed */
const LATE_CREATE_MIN_WAIT_MS = 3_000;
const LATE_CREATE_POLL_MS = 3_000;

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
