/**
 * The one retry policy every platform, lifecycle and proxy call goes through (docs/protocol.md §1.6):
 * exponential backoff with full jitter, a cap per wait, a cap on attempts and on total time, and
 * `Retry-After` honoured (seconds or HTTP-date).
 */

export interface RetryPolicy {
  /** Attempts in total, including the first one. */
  maxAttempts: number;
  /** The first backoff window; window n is baseDelayMs · 2^(n-1), capped by maxDelayMs. */
  baseDelayMs: number;
  /** Cap of one backoff wait (a server's Retry-After may ask for longer; see transport.ts). */
  maxDelayMs: number;
  /** No retry is started once this much time has passed since the first attempt (or would pass during the wait). */
  maxElapsedMs: number;
}

export const defaultRetryPolicy: RetryPolicy = Object.freeze({
  maxAttempts: 6,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
  maxElapsedMs: 180_000,
});

/**
 * Delay before retry number `attempt` (1 = the wait after the first failed attempt):
 * full jitter, i.e. uniform in [0, min(maxDelayMs, baseDelayMs · 2^(attempt-1))).
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  // 2^(n-1) overflows to Infinity for huge n; Math.min copes with that.
  const window = Math.min(policy.maxDelayMs, policy.baseDelayMs * Math.pow(2, n - 1));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * Math.max(0, window));
}

/**
 * `Retry-After` → milliseconds to wait, or undefined when absent/unparsable.
 * Accepts delta-seconds (`120`, also fractional) and an HTTP-date (a date in the past gives 0).
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) {
    const secs = Number(v);
    return Number.isFinite(secs) ? Math.round(secs * 1000) : undefined;
  }
  // Only accept things that look like an HTTP-date (IMF-fixdate, RFC 850, asctime), not any
  // string Date.parse happens to understand.
  if (!/[a-z]{3}/i.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Statuses worth retrying: request timeout, rate limit and the 5xx gateway/overload family. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** Statuses that are never retried, whatever the mode: the request itself is wrong. */
export function isTerminalStatus(status: number): boolean {
  return status === 400 || status === 401 || status === 403 || status === 404 || status === 409 || status === 410 || status === 422;
}

export function resolvePolicy(partial?: Partial<RetryPolicy>): RetryPolicy {
  const p = { ...defaultRetryPolicy, ...(partial ?? {}) };
  return {
    maxAttempts: Math.max(1, Math.floor(p.maxAttempts)),
    baseDelayMs: Math.max(0, p.baseDelayMs),
    maxDelayMs: Math.max(0, p.maxDelayMs),
    maxElapsedMs: Math.max(0, p.maxElapsedMs),
  };
}
