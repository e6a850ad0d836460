/**
 * The remote-command protocol of docs/protocol.md §6.2: start (with recovery by listing), follow the
 * output with replay counting and reattachment, and derive the terminal status.
 */
import { ActionError, cancelledError } from '../errors.js';
import { HttpStatusError, TransportError } from './http-errors.js';
import type { SandboxProxy } from './proxy.js';
import type { CommandResult, OutputEvent, ProcessInfo, ProcessStartPayload } from './types.js';

export interface RunCommandOptions {
  onOutput?: (e: OutputEvent) => void;
  onNotice?: (message: string) => void;
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const START_ATTEMPTS = 3;
export const RECOVERY_ATTEMPTS = 10;
export const MAX_STREAM_FAILURES = 10;
/** follows tried to read the end of the output of a process that exited while its stream was broken */
const TAIL_ATTEMPTS = 3;
const STEP_MS = 1000;

/** §6.2 terminal status rules; undefined while the process is still running. */
export function terminalStatus(p: ProcessInfo): { exitCode: number; oomKilled: boolean } | undefined {
  if (p.oom_killed || p.status === 'oom_killed' || p.managed_oom_killed === true) {
    const code = p.signal !== undefined ? -p.signal : p.exit_code !== undefined ? p.exit_code : -9;
    return { exitCode: code, oomKilled: true };
  }
  if (p.exit_code !== undefined) return { exitCode: p.exit_code, oomKilled: false };
  if (p.signal !== undefined) return { exitCode: -p.signal, oomKilled: false };
  if (p.status !== 'running') return { exitCode: 0, oomKilled: false };
  return undefined;
}

export const OOM_SUFFIX = ' (process was killed by the kernel OOM killer)';

/** `Command '<cmd>' failed with exit code <code>[ (process was killed by the kernel OOM killer)]`. */
export function commandFailureMessage(command: string, result: CommandResult): string {
  const oom = result.oomKilled ? OOM_SUFFIX : '';
  return `Command '${command}' failed with exit code ${result.exitCode}${oom}`;
}

function isCancelled(e: unknown): boolean {
  return e instanceof ActionError && e.kind === 'cancelled';
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function sameArgs(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Runs one command per §6.2 and returns its result; a nonzero exit is a result, not an error.
 * Throws for start failures (after recovery), for 10 consecutive stream/status failures, and on
 * cancellation.
 */
export async function runCommand(proxy: SandboxProxy, payload: ProcessStartPayload, opts: RunCommandOptions = {}): Promise<CommandResult> {
  const { signal } = opts;
  const notice = (m: string): void => opts.onNotice?.(m);
  const sleep = async (ms: number): Promise<void> => {
    if (opts.sleep) {
      if (signal?.aborted) throw cancelledError(`running '${payload.command}'`);
      await opts.sleep(ms, signal);
      if (signal?.aborted) throw cancelledError(`running '${payload.command}'`);
    } else {
      await proxy.sleep(ms, signal);
    }
  };

  const pid = (await startWithRecovery(proxy, payload, signal, notice, sleep)).pid;

  let delivered = 0;
  let failures = 0;
  /** One follow: the server replays the whole history, the first `delivered` events are skipped. */
  const followOnce = async (): Promise<unknown> => {
    let skip = delivered;
    try {
      for await (const ev of proxy.followOutput(pid, signal)) {
        if (skip > 0) {
          skip--;
          continue;
        }
        delivered++;
        opts.onOutput?.(ev);
      }
      return undefined;
    } catch (e) {
      if (isCancelled(e)) throw e;
      return e;
    }
  };
  for (;;) {
    const followError = await followOnce();
    if (followError === undefined) failures = 0;
    else failures++;

    // Terminal status (status reads share the consecutive-failure budget).
    let info: ProcessInfo;
    for (;;) {
      try {
        info = await proxy.getProcess(pid, signal);
        break;
      } catch (e) {
        if (isCancelled(e)) throw e;
        // A definitive answer (404 unknown process, 410 sandbox gone) will not change: stop now.
        // Others (a 400 "not running", a proxy error) may be passing (§5.4): keep the retry budget.
        if (e instanceof HttpStatusError && (e.httpStatus === 404 || e.httpStatus === 410)) throw e;
        failures++;
        if (failures >= MAX_STREAM_FAILURES) throw e;
        await sleep(STEP_MS);
      }
    }
    const term = terminalStatus(info);
    if (term) {
      // Departure from the reference client: when the stream broke and the process ended meanwhile,
      // it stops here and the tail of the output is lost. Follow once more to deliver it: an exited
      // process's stream replays its history and closes.
      if (followError !== undefined && opts.onOutput) {
        for (let tries = 1; tries <= TAIL_ATTEMPTS && (await followOnce()) !== undefined; tries++) {
          if (tries === TAIL_ATTEMPTS) notice(`could not read the rest of the output of process ${pid}`);
          else await sleep(STEP_MS);
        }
      }
      return { pid, exitCode: term.exitCode, oomKilled: term.oomKilled };
    }

    if (followError !== undefined) {
      if (failures >= MAX_STREAM_FAILURES) throw followError;
      notice(`process stream interrupted; reattaching to process ${pid}`);
    } else {
      notice(`process output stream ended before process ${pid} exited; reattaching`);
    }
    await sleep(STEP_MS);
  }
}

async function startWithRecovery(
  proxy: SandboxProxy,
  payload: ProcessStartPayload,
  signal: AbortSignal | undefined,
  notice: (m: string) => void,
  sleep: (ms: number) => Promise<void>,
): Promise<ProcessInfo> {
  let startError: unknown;
  let recoveryError: string | undefined;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await proxy.startProcess(payload, signal);
    } catch (e) {
      if (isCancelled(e)) throw e;
      if (e instanceof ActionError && e.kind === 'auth') throw e;
      startError = e;
    }
    notice(`process start attempt ${attempt} failed; looking for an already-started process`);
    for (let r = 1; r <= RECOVERY_ATTEMPTS; r++) {
      try {
        const list = await proxy.listProcesses(signal);
        const matches = list.filter((p) => p.command === payload.command && sameArgs(p.args, payload.args));
        if (matches.length > 0) return matches.reduce((a, b) => (b.pid > a.pid ? b : a));
        recoveryError = `No process found for command '${payload.command}' with args ${JSON.stringify(payload.args)}`;
      } catch (e) {
        if (isCancelled(e)) throw e;
        recoveryError = messageOf(e);
      }
      if (r < RECOVERY_ATTEMPTS) await sleep(STEP_MS);
    }
    if (attempt < START_ATTEMPTS) await sleep(STEP_MS);
  }
  // Keep the start error's class (status, body, transport) so that callers can still classify
  // it (e.g. isTransientError for the readiness probe).
  const message = `failed to start '${payload.command}' in the builder sandbox: start failed: ${messageOf(startError)}; recovery failed: ${recoveryError ?? 'unknown'}`;
  if (startError instanceof HttpStatusError) {
    throw new HttpStatusError(message, {
      kind: startError.kind === 'auth' ? 'auth' : 'sandbox',
      status: startError.httpStatus ?? 0,
      body: startError.responseBody,
      operation: startError.operation,
    });
  }
  if (startError instanceof TransportError)
    throw new TransportError(message, { code: startError.code, unsent: startError.unsent, cause: startError });
  throw new ActionError(message, { kind: startError instanceof ActionError ? startError.kind : 'sandbox', cause: startError });
}
