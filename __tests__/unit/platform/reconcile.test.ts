import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { ActionError, cancelledError } from '../../../src/errors.js';
import { TransportError } from '../../../src/platform/http-errors.js';
import { reconcileAmbiguousPost, type AmbiguousPost, type ReadBack } from '../../../src/platform/reconcile.js';
import type { RetryPolicy } from '../../../src/platform/retry.js';

/** A transport slice with a fake clock: every sleep advances it; backoff n is 100·n ms. */
function fakeTransport(policy: Partial<RetryPolicy> = {}) {
  let clock = 1_000;
  const sleeps: number[] = [];
  const debug: string[] = [];
  return {
    sleeps,
    debug,
    transport: {
      policy: { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 1_000, maxElapsedMs: 60_000, ...policy },
      now: () => clock,
      backoff: (attempt: number) => 100 * attempt,
      sleep: (ms: number) => {
        sleeps.push(ms);
        clock += ms;
        return Promise.resolve();
      },
      log: { debug: (m: string) => void debug.push(m), info() {}, warning() {} },
    },
  };
}

const sentButNoAnswer = (n = 1) => new TransportError(`socket hang up ${n}`, { code: 'ECONNRESET', unsent: false });

/** A read-back whose states are taken in turn; records every read. */
function readBackOf<S>(states: S[], settle: ReadBack<string, S>['settle']): ReadBack<string, S> & { reads: number } {
  const rb = {
    reads: 0,
    read: () => {
      rb.reads++;
      return Promise.resolve(states[Math.min(rb.reads, states.length) - 1]);
    },
    failed: (why: string) => `reading back also failed: ${why}`,
    settle,
    resendNote: (wait: number) => `sending again in ${wait} ms`,
  };
  return rb;
}

function post<S>(over: Partial<AmbiguousPost<string, S>> & Pick<AmbiguousPost<string, S>, 'send'>, policy?: Partial<RetryPolicy>) {
  const t = fakeTransport(policy);
  return { ...t, post: { operation: 'do the thing', transport: t.transport, ...over } };
}

test('an answer that settles the call is the result: nothing is read back', async () => {
  const rb = readBackOf(['x'], () => assert.fail('not read back'));
  const sent: boolean[] = [];
  const p = post<string>({ send: (resent) => (sent.push(resent), Promise.resolve({ done: 'created' })), readBack: rb });
  assert.equal(await reconcileAmbiguousPost(p.post), 'created');
  assert.deepEqual(sent, [false]);
  assert.equal(rb.reads, 0);
  assert.deepEqual(p.sleeps, []);
});

test('a final answer and a request never sent are thrown as they are, without a read-back', async () => {
  for (const final of [new ActionError('HTTP 422', { kind: 'platform' }), new TransportError('ECONNREFUSED', { unsent: true })]) {
    const rb = readBackOf(['x'], () => assert.fail('not settled'));
    const p = post<string>({ send: () => Promise.reject(final), readBack: rb });
    await assert.rejects(reconcileAmbiguousPost(p.post), (e) => e === final);
    assert.equal(rb.reads, 0);
  }
});

test('an ambiguous attempt (sent, no answer, or an ambiguous status) is settled by what is read back', async () => {
  const answers = [
    () => Promise.reject(sentButNoAnswer()),
    () => Promise.resolve({ ambiguous: new ActionError('HTTP 502', { kind: 'platform' }) }),
  ];
  for (const answer of answers) {
    const seen: [string, string][] = [];
    const rb = readBackOf(['applied'], (state, ambiguous) => (seen.push([state, ambiguous.message]), { done: `adopted ${state}` }));
    const p = post<string>({ send: answer, readBack: rb });
    assert.equal(await reconcileAmbiguousPost(p.post), 'adopted applied');
    assert.equal(rb.reads, 1);
    assert.equal(seen.length, 1);
    assert.match(seen[0][1], /socket hang up|HTTP 502/);
    assert.deepEqual(p.sleeps, []);
  }
});

test("'resend' sends again after the transport's backoff, telling send it is a resend", async () => {
  const sent: boolean[] = [];
  const rb = readBackOf(['not applied', 'not applied'], () => 'resend');
  const p = post<string>({
    send: (resent) => {
      sent.push(resent);
      return sent.length < 3 ? Promise.reject(sentButNoAnswer(sent.length)) : Promise.resolve({ done: 'third time' });
    },
    readBack: rb,
  });
  assert.equal(await reconcileAmbiguousPost(p.post), 'third time');
  assert.deepEqual(sent, [false, true, true]);
  assert.deepEqual(p.sleeps, [100, 200]);
  assert.deepEqual(p.debug, ['sending again in 100 ms', 'sending again in 200 ms']);
});

test('resends stop at the attempt cap, throwing the last ambiguous failure', async () => {
  let n = 0;
  const rb = readBackOf(['not applied'], () => 'resend');
  const p = post<string>({ send: () => Promise.reject(sentButNoAnswer(++n)), readBack: rb }, { maxAttempts: 3 });
  await assert.rejects(reconcileAmbiguousPost(p.post), /socket hang up 3/);
  assert.equal(n, 3);
  assert.equal(rb.reads, 3);
  assert.deepEqual(p.sleeps, [100, 200]);
});

test('resends stop when the next wait would pass the total-time cap', async () => {
  let n = 0;
  const rb = readBackOf(['not applied'], () => 'resend');
  // waits 100, 200 (elapsed 300), then 300 would end at 600 > 500
  const p = post<string>({ send: () => Promise.reject(sentButNoAnswer(++n)), readBack: rb }, { maxElapsedMs: 500 });
  await assert.rejects(reconcileAmbiguousPost(p.post), /socket hang up 3/);
  assert.equal(n, 3);
  assert.deepEqual(p.sleeps, [100, 200]);
});

test('without a read-back an ambiguous failure is final', async () => {
  let n = 0;
  const p = post<string>({ send: () => Promise.reject(sentButNoAnswer(++n)) });
  await assert.rejects(reconcileAmbiguousPost(p.post), /socket hang up 1/);
  assert.equal(n, 1);
});

test('a failed read-back throws the ambiguous failure with advice; a cancelled one is thrown as it is', async () => {
  const failing = {
    read: () => Promise.reject(new Error('HTTP 503 on the list')),
    failed: (why: string) => `reading back also failed: ${why}`,
    settle: () => assert.fail('not settled'),
    resendNote: () => '',
  };
  const p = post<string>({ send: () => Promise.reject(sentButNoAnswer()), readBack: failing });
  await assert.rejects(reconcileAmbiguousPost(p.post), (e) => {
    assert.ok(e instanceof TransportError);
    assert.match(e.message, /socket hang up/);
    assert.deepEqual(e.advice, ['reading back also failed: HTTP 503 on the list']);
    return true;
  });

  const cancelled = cancelledError('listing');
  const q = post<string>({
    send: () => Promise.reject(sentButNoAnswer()),
    readBack: { ...failing, read: () => Promise.reject(cancelled) },
  });
  await assert.rejects(reconcileAmbiguousPost(q.post), (e) => e === cancelled);
});

test('what settle throws is the error (a failed state), with no resend', async () => {
  let n = 0;
  const rb = readBackOf(['failed'], () => {
    throw new ActionError('the build failed', { kind: 'platform' });
  });
  const p = post<string>({ send: () => Promise.reject(sentButNoAnswer(++n)), readBack: rb });
  await assert.rejects(reconcileAmbiguousPost(p.post), /the build failed/);
  assert.equal(n, 1);
  assert.deepEqual(p.sleeps, []);
});
