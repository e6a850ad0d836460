/**
 * What one build carries through its phases: the request, the ports to the outside (events,
 * secrets, log, clock, cancellation) and the platform clients. One per build, never shared, so
 * several builds run at once without global state.
 */
import { ActionError } from '../errors.js';
import type { Log } from '../log.js';
import type { SecretRegistry } from '../secrets.js';
import type { ActionInputs, Auth } from '../inputs.js';
import { HttpTransport } from '../platform/transport.js';
import type { RetryPolicy } from '../platform/retry.js';
import { runCommand, commandFailureMessage } from '../platform/process.js';
import type { SandboxProxy } from '../platform/proxy.js';
import type { CommandResult, ProcessStartPayload } from '../platform/types.js';
import type { BuildEvents } from './events.js';

export type BuildRequest = Omit<ActionInputs, 'summary' | 'annotations' | 'secrets'>;

export interface BuildLimits {
  sandboxRunningMs: number;
  sandboxPollMs: number;
  readinessMs: number;
  keepaliveMs: number;
  /** time allowed for deleting the builder sandbox (short when cancelled: GitHub kills 7.5 s after SIGINT) */
  cleanupMs: number;
  cancelledCleanupMs: number;
}

/** CONTRACT §12. sandboxRunningMs/readinessMs are replaced by the sandbox-timeout input. */
export const CONTRACT_LIMITS: BuildLimits = {
  sandboxRunningMs: 120_000,
  sandboxPollMs: 1_000,
  readinessMs: 120_000,
  keepaliveMs: 120_000,
  cleanupMs: 60_000,
  cancelledCleanupMs: 5_000,
};

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

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

export function cancelledError(): ActionError {
  return new ActionError('the run was cancelled', { kind: 'cancelled' });
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelledError());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelledError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** 850 → `850ms`, 1500 → `1.5s`, 90000 → `1m30s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${m}m${s}s` : `${m}m`;
}

/**
 * Runs a command in the builder sandbox (§6.2) and fails on a non-zero exit. With `forward`, its
 * output and the protocol notices reach the log (tar, the builder); otherwise they are dropped
 * (mkdir, chmod, the readiness probe), as the reference client does.
 */
export async function execInSandbox(
  s: BuildSession,
  proxy: SandboxProxy,
  payload: ProcessStartPayload,
  opts: { forward?: boolean; signal?: AbortSignal; onLine?: (line: string) => void; timeoutMs?: number; limitName?: string } = {},
): Promise<CommandResult> {
  const outer = opts.signal ?? s.signal;
  const deadline = opts.timeoutMs !== undefined ? AbortSignal.timeout(Math.max(1, opts.timeoutMs)) : undefined;
  const signal = deadline ? (outer ? AbortSignal.any([outer, deadline]) : deadline) : outer;
  let res: CommandResult;
  try {
    res = await runCommand(proxy, payload, {
      signal,
      sleep: s.deps.sleep,
      onOutput: opts.forward
        ? (e) => {
            opts.onLine?.(e.line);
            s.events.buildLog(e.stream, e.line);
          }
        : undefined,
      onNotice: opts.forward ? (m) => s.events.status(m) : undefined,
    });
  } catch (e) {
    if (deadline?.aborted && !outer?.aborted) {
      throw new ActionError(
        `'${[payload.command, ...payload.args].join(' ')}' did not finish within ${formatDuration(opts.timeoutMs!)}${opts.limitName ? ` (${opts.limitName})` : ''} in the builder sandbox`,
        {
          kind: 'timeout',
          cause: e,
          input: opts.limitName,
        },
      );
    }
    throw e;
  }
  if (res.exitCode !== 0) throw new ActionError(commandFailureMessage(payload.command, res), { kind: 'builder' });
  return res;
}

/** Limits for the housekeeping commands (the builder has build-timeout, the probe sandbox-timeout). */
export const COMMAND_LIMITS_MS = { housekeeping: 2 * 60_000, untar: 15 * 60_000 };

export type TransportOptions = Omit<ConstructorParameters<typeof HttpTransport>[0], 'token' | 'scopeHeaders'>;

/** A transport authenticated as the inputs say: the token, plus scope headers for a PAT (§1.2). */
export function transportFor(auth: Auth, opts: TransportOptions): HttpTransport {
  return new HttpTransport({
    ...opts,
    token: auth.token,
    scopeHeaders: auth.kind === 'pat' ? { organizationId: auth.organizationId, projectId: auth.projectId } : undefined,
  });
}
