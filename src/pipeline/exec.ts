/** Running one command in the builder sandbox under a time limit, failing on a non-zero exit. */
import { ActionError } from '../errors.js';
import { formatDuration } from '../format.js';
import { runCommand, commandFailureMessage } from '../platform/process.js';
import type { SandboxProxy } from '../platform/proxy.js';
import { registerTextSecrets } from '../platform/url-secrets.js';
import type { CommandResult, ProcessStartPayload } from '../platform/types.js';
import { anySignal } from '../signals.js';
import type { BuildSession } from './session.js';

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
  const signal = anySignal(outer, deadline);
  let res: CommandResult;
  try {
    res = await runCommand(proxy, payload, {
      signal,
      sleep: s.deps.sleep,
      onOutput: opts.forward
        ? (e) => {
            // Builder output is third-party text: a signed URL in it is a secret before it prints.
            registerTextSecrets(e.line, s.deps.secrets);
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
