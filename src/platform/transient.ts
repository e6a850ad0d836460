/**
 * The sandbox transient rule: which failures of a freshly started sandbox mean "not up yet, ask
 * again" rather than "failed". Used by the running wait and the readiness probe.
 */
import { HttpStatusError, TransportError } from './http-errors.js';

/**
 * §5.4 transient classification (used by the running wait and the readiness probe): an HTTP error
 * with status 502/503/504, a 400 whose body says `not running`, a body containing `PROXY_ERROR` or
 * `Failed to proxy request`, or a transport error (timeout, connect failure, reset).
 */
export function isTransientError(e: unknown): boolean {
  if (e instanceof TransportError) return true;
  if (e instanceof HttpStatusError) {
    const s = e.httpStatus ?? 0;
    if (s === 502 || s === 503 || s === 504) return true;
    if (s === 400 && e.responseBody.includes('not running')) return true;
    if (e.responseBody.includes('PROXY_ERROR') || e.responseBody.includes('Failed to proxy request')) return true;
  }
  return false;
}
