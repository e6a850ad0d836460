import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { backoffDelay, defaultRetryPolicy, isRetryableStatus, isTerminalStatus, parseRetryAfter } from '../../../src/platform/retry.js';

test('backoffDelay: full jitter within [0, min(cap, base·2^(n-1)))', () => {
  const p = { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 20_000, maxElapsedMs: 180_000 };
  for (let n = 1; n <= 12; n++) {
    const window = Math.min(20_000, 500 * 2 ** (n - 1));
    assert.equal(
      backoffDelay(p, n, () => 0),
      0,
    );
    const hi = backoffDelay(p, n, () => 0.999999);
    assert.ok(hi < window && hi >= window - 1, `attempt ${n}: ${hi} vs window ${window}`);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(p, n);
      assert.ok(d >= 0 && d < window, `attempt ${n}: ${d}`);
    }
  }
  // capped per wait even for huge attempt numbers
  assert.ok(backoffDelay(p, 10_000, () => 0.999) <= 20_000, 'backoffDelay(p, 10_000, () => 0.999) <= 20_000');
  // the default policy is the documented one
  assert.deepEqual({ ...defaultRetryPolicy }, { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 20_000, maxElapsedMs: 180_000 });
});

test('backoffDelay: jitter actually varies', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 20; i++) seen.add(backoffDelay(defaultRetryPolicy, 4));
  assert.ok(seen.size > 5, 'seen.size > 5');
});

test('parseRetryAfter: delta-seconds and HTTP-date', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter(' 0 ', now), 0);
  assert.equal(parseRetryAfter('1.5', now), 1500);
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:07 GMT', now), 7000);
  assert.equal(parseRetryAfter('Wednesday, 21-Oct-15 07:28:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now), 0, 'a past date means now');
  assert.equal(parseRetryAfter(undefined, now), undefined);
  assert.equal(parseRetryAfter('', now), undefined);
  assert.equal(parseRetryAfter('-5', now), undefined);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter('12abc', now), undefined);
});

test('retryable and terminal statuses', () => {
  for (const s of [408, 429, 500, 502, 503, 504]) assert.equal(isRetryableStatus(s), true, String(s));
  for (const s of [200, 201, 301, 400, 401, 403, 404, 409, 422, 501, 505]) assert.equal(isRetryableStatus(s), false, String(s));
  for (const s of [400, 401, 403, 404, 409, 422]) assert.equal(isTerminalStatus(s), true, String(s));
  assert.equal(isTerminalStatus(429), false);
});
