/** Cancellation plumbing: combining abort signals, sleeping until a time or an abort, cancelling on SIGINT/SIGTERM. */
import { cancelledError } from './errors.js';

/** One signal that aborts when any of the given ones does; undefined when none is given. */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const list = signals.filter((s): s is AbortSignal => s !== undefined);
  if (list.length <= 1) return list[0];
  return AbortSignal.any(list);
}

/** A sleep: the injected kind every wait in the action goes through (tests pass a fake one). */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The real sleep: resolves after `ms`, rejects with a cancelled error when `signal` aborts. */
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

/** A cancellation driven by the process's SIGINT/SIGTERM; dispose() stops listening. */
export interface SignalCancel {
  signal: AbortSignal;
  dispose(): void;
}

export interface SignalCancelling {
  /** where SIGINT/SIGTERM come from: the process */
  signals: Pick<NodeJS.Process, 'on' | 'off'>;
  /** where the "Received SIGINT: cancelling …" line goes */
  log: { info(m: string): void };
  /** what is cancelled, for that line (`the build and deleting the builder sandbox`) */
  what: string;
  /** told first, once */
  onCancel?: () => void;
}

/** SIGINT/SIGTERM abort the returned signal (once, telling `onCancel` first); dispose() stops listening. */
export function cancelOnSignals({ signals, log, what, onCancel }: SignalCancelling): SignalCancel {
  const controller = new AbortController();
  let signalled: string | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) return;
    signalled = sig;
    log.info(`Received ${sig}: cancelling ${what}...`);
    onCancel?.();
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
