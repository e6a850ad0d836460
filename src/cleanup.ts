/**
 * The post step (post-if: always): deletes every builder sandbox the main step recorded with
 * core.saveState and did not delete — because it was cancelled, crashed or was killed. Idempotent:
 * a sandbox that is already gone (404) counts as deleted. Never fails the job.
 */
import * as actionsCore from '@actions/core';
import { readConnection } from './inputs.js';
import { SecretRegistry } from './secrets.js';
import { formatError, toActionError } from './errors.js';
import { transportFor } from './build/session.js';
import { LifecycleApi } from './platform/lifecycle-api.js';
import type { RetryPolicy } from './platform/retry.js';
import { USER_AGENT } from './version.js';

export interface PostOptions {
  core?: Pick<typeof actionsCore, 'getInput' | 'getState' | 'info' | 'warning' | 'debug' | 'setSecret'>;
  env?: Record<string, string | undefined>;
  retry?: Partial<RetryPolicy>;
}

export async function runPost(options: PostOptions = {}): Promise<{ deleted: string[]; failed: string[] }> {
  const core = options.core ?? actionsCore;
  const env = options.env ?? process.env;
  const secrets = new SecretRegistry((v) => core.setSecret(v));
  for (const n of ['api-key', 'pat']) secrets.add(core.getInput(n));
  for (const n of ['TENSORLAKE_API_KEY', 'TENSORLAKE_PAT']) secrets.add(env[n]);
  const redact = (s: string) => secrets.redact(s);

  let ids: string[] = [];
  try {
    const raw = core.getState('builder-sandboxes');
    const parsed: unknown = raw ? JSON.parse(raw) : [];
    if (Array.isArray(parsed)) ids = parsed.filter((x): x is string => typeof x === 'string' && x !== '');
  } catch {
    core.warning('Post step: the saved builder sandbox list is unreadable; nothing to clean up.');
  }
  if (ids.length === 0) {
    core.info('No builder sandbox left to clean up.');
    return { deleted: [], failed: [] };
  }
  const deleted: string[] = [];
  const failed: string[] = [];
  try {
    const conn = readConnection({ input: (n) => core.getInput(n), env, workspace: env.GITHUB_WORKSPACE || process.cwd() });
    const transport = transportFor(conn.auth, {
      userAgent: USER_AGENT,
      secrets,
      log: { debug: (m) => core.debug(redact(m)), info: (m) => core.info(redact(m)), warning: (m) => core.warning(redact(m)) },
      retry: { maxElapsedMs: 30_000, ...options.retry },
      signal: AbortSignal.timeout(60_000),
    });
    const lifecycle = new LifecycleApi(transport, conn.apiUrl, conn.namespace);
    for (const id of ids) {
      try {
        await lifecycle.deleteSandbox(id);
        deleted.push(id);
        core.info(`Post step: deleted builder sandbox ${id} left by the main step.`);
      } catch (e) {
        failed.push(id);
        core.warning(`Post step: failed to delete builder sandbox ${id}: ${formatError(toActionError(e), redact)}`);
      }
    }
  } catch (e) {
    failed.push(...ids.filter((i) => !deleted.includes(i)));
    core.warning(`Post step: cannot clean up builder sandboxes ${ids.join(', ')}: ${formatError(toActionError(e), redact)}`);
  }
  return { deleted, failed };
}
