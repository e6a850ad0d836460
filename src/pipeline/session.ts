/**
 * What one build carries through its phases: the request, the ports to the outside (events,
 * secrets, log, clock, cancellation) and the platform clients. One per build, never shared, so
 * several builds run at once without global state.
 */
import type { Log } from '../log.js';
import type { SecretRegistry } from '../secrets.js';
import { ActionError } from '../errors.js';
import type { Auth } from '../connection.js';
import type { ActionInputs } from '../inputs.js';
import type { RetryPolicy } from '../platform/retry.js';
import type { Sleep } from '../signals.js';
import type { BuildEvents } from './events.js';

export type BuildRequest = Omit<ActionInputs, 'summary' | 'annotations' | 'secrets'> & {
  /** skip-unchanged: the build digest to record with the template (appended to its Dockerfile text) */
  buildRecord?: string;
};

export interface BuildLimits {
  sandboxRunningMs: number;
  sandboxPollMs: number;
  readinessMs: number;
  keepaliveMs: number;
  /** time allowed for deleting the builder sandbox (short when cancelled: GitHub kills 7.5 s after SIGINT) */
  cleanupMs: number;
  cancelledCleanupMs: number;
}

/** docs/protocol.md §12. sandboxRunningMs/readinessMs are replaced by the sandbox-timeout input. */
export const DEFAULT_LIMITS: BuildLimits = {
  sandboxRunningMs: 120_000,
  sandboxPollMs: 1_000,
  readinessMs: 120_000,
  keepaliveMs: 120_000,
  cleanupMs: 60_000,
  cancelledCleanupMs: 5_000,
};

export interface BuildDeps {
  events: BuildEvents;
  secrets: SecretRegistry;
  log: Log;
  env: Record<string, string | undefined>;
  /** aborts the build (SIGINT/SIGTERM) */
  signal?: AbortSignal;
  userAgent?: string;
  retry?: Partial<RetryPolicy>;
  limits?: Partial<BuildLimits>;
  sleep?: Sleep;
  now?: () => number;
}

export interface BuildSession {
  req: BuildRequest;
  deps: BuildDeps;
  events: BuildEvents;
  limits: BuildLimits;
  signal?: AbortSignal;
  now: () => number;
  sleep: Sleep;
}

/** The credentials of a build that talks to the platform (a plan-only run may have none and never asks). */
export function requireAuth(req: BuildRequest): Auth {
  if (!req.auth) throw new ActionError('no credentials for a request to the platform in a plan-only run', { kind: 'internal' });
  return req.auth;
}
