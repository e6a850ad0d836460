/**
 * The reconciliation loop of a POST that must not be applied twice (sandbox create, build
 * /complete; docs/protocol.md §5.1, §9.1). The transport retries such a POST only when it provably
 * never reached the server ('if-unsent'); any other failure is ambiguous: the platform may or may
 * not have acted. The loop then reads the platform's state back and lets the caller decide: done
 * (the POST went through, or its outcome is known), send it again (it did not), or throw. Resends
 * follow the transport's backoff and stop at its policy's attempt and total-time caps, throwing
 * the ambiguous failure.
 */
import { ActionError } from '../errors.js';
import { TransportError } from './http-errors.js';
import type { HttpTransport } from './transport.js';

/** What an attempt or a reading settled: the call's result. */
export interface Settled<T> {
  done: T;
}

/** One attempt's answer was ambiguous: this is the failure to reconcile (and to throw if nothing else is known). */
export interface Ambiguous {
  ambiguous: ActionError;
}

/** How the state is read back after an ambiguous attempt, and what it means. */
export interface ReadBack<T, S> {
  read(): Promise<S>;
  /** Advice added to the ambiguous failure when the read itself failed (`why`: its message). */
  failed(why: string): string;
  /**
   * What the state says: the result, 'resend' (the POST was not applied), or a throw (the state
   * is an error, or says nothing a resend could fix: throw `ambiguous`).
   */
  settle(state: S, ambiguous: ActionError): Promise<Settled<T> | 'resend'> | Settled<T> | 'resend';
  /** The debug line before a resend after `waitMs`. */
  resendNote(waitMs: number): string;
}

export interface AmbiguousPost<T, S> {
  /** What the action is doing (`create builder sandbox`): names the resend waits. */
  operation: string;
  transport: Pick<HttpTransport, 'policy' | 'now' | 'backoff' | 'sleep' | 'log'>;
  signal?: AbortSignal;
  /**
   * Sends the POST once. Returns the result when the answer settles the call, the failure when the
   * answer is ambiguous; throws when the answer is final. `resent`: an earlier attempt was ambiguous.
   * A TransportError it throws counts as ambiguous unless the request was provably never sent.
   */
  send(resent: boolean): Promise<Settled<T> | Ambiguous>;
  /** Absent when the state cannot be read back (a create without a name): an ambiguous failure is then final. */
  readBack?: ReadBack<T, S>;
}

export async function reconcileAmbiguousPost<T, S>(post: AmbiguousPost<T, S>): Promise<T> {
  const { transport, signal, readBack } = post;
  const policy = transport.policy;
  const started = transport.now();
  for (let attempt = 1; ; attempt++) {
    let ambiguous: ActionError;
    try {
      const answer = await post.send(attempt > 1);
      if ('done' in answer) return answer.done;
      ambiguous = answer.ambiguous;
    } catch (e) {
      // Not an ambiguity: an error answer, or a request that provably never reached the server
      // (the transport has already retried those as far as the policy allows).
      if (!(e instanceof TransportError) || e.unsent) throw e;
      ambiguous = e;
    }
    if (!readBack) throw ambiguous;

    let state: S;
    try {
      state = await readBack.read();
    } catch (e) {
      if (e instanceof ActionError && e.kind === 'cancelled') throw e;
      throw ambiguous.addAdvice(readBack.failed(e instanceof Error ? e.message : String(e)));
    }
    const verdict = await readBack.settle(state, ambiguous);
    if (verdict !== 'resend') return verdict.done;

    const wait = transport.backoff(attempt);
    if (attempt >= policy.maxAttempts || transport.now() - started + wait > policy.maxElapsedMs) throw ambiguous;
    transport.log.debug(readBack.resendNote(wait));
    await transport.sleep(wait, signal, post.operation);
  }
}
