/**
 * Per-test teardown: `afterTest(fn)` runs fn once the current test ends, pass or fail, last
 * registered first (what node:test's `t.after` did). Importing this module registers one
 * `afterEach` hook in the importing test file; each test file has its own module registry, so the
 * queue is per file. A failing teardown fails the test it belongs to.
 */
import { afterEach } from '@jest/globals';

const queue: Array<() => unknown> = [];

afterEach(async () => {
  const tasks = queue.splice(0).reverse();
  const errors: unknown[] = [];
  for (const task of tasks) {
    try {
      await task();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} test teardowns failed`);
});

export function afterTest(fn: () => unknown): void {
  queue.push(fn);
}
