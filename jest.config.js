/**
 * jest 30 in ESM mode (ts-jest, `NODE_OPTIONS=--experimental-vm-modules`: see package.json).
 * Three projects, runnable alone: `npm run test:unit`, `test:simulator`, `test:e2e`
 * (or `npx jest --selectProjects unit`, `npx jest <path>` with the same NODE_OPTIONS).
 *
 * Pattern for a test file (copy a converted one, e.g. __tests__/unit/platform/http.test.ts):
 *   import { afterAll, beforeAll, describe, expect, test } from '@jest/globals'; // explicit imports, no globals
 *   import assert from 'node:assert/strict';          // node:assert inside a jest test is fine
 *   import { afterTest } from '../../after-test.js';  // per-test teardown (what node:test's t.after was)
 *   import { startServer } from './helpers.js';       // relative imports keep their .js extension
 *   test('what the behaviour is', async () => {
 *     const srv = await startServer(handler);
 *     afterTest(() => srv.close());
 *     assert.equal(...);
 *   });
 * Realms: a test runs in a vm context, Node's own APIs (fs.readdir, structuredClone, ...) hand back
 * arrays and objects of the outer realm, and node:assert's deepEqual/deepStrictEqual compares
 * prototypes, so `assert.deepEqual(await readdir(d), [])` fails on equal values: compare those
 * with `expect(x).toStrictEqual(y)` (same values and types, across realms).
 * Mock an ESM module with `jest.unstable_mockModule(...)` then `await import(...)` (jest.mock cannot
 * see ESM-only packages). A test that cannot run everywhere uses `(cond ? test.skip : test)(...)` and
 * says in its name when it is skipped. Per-suite resources: beforeAll/afterAll (see
 * __tests__/e2e/support.ts simulatorForSuite). No timed assertions: speed is for `npm run bench`.
 */
const base = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/.bench-out/'],
};

/** @type {import('jest').Config} */
export default {
  // The end-to-end tests spawn the action and the simulator and are timing sensitive: two workers
  // at most, whatever the core count (CI and the dev machine have 2 cores).
  maxWorkers: 2,
  // generous: it bounds a hung test on a loaded 2-core machine and asserts nothing about speed
  testTimeout: 180_000,
  // one temp directory for the run, removed at its end: nothing is left in /tmp
  globalSetup: '<rootDir>/__tests__/temp-dir-setup.mjs',
  globalTeardown: '<rootDir>/__tests__/temp-dir-teardown.mjs',
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/__tests__/unit/**/*.test.ts'] },
    { ...base, displayName: 'simulator', testMatch: ['<rootDir>/__tests__/simulator/**/*.test.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/__tests__/e2e/**/*.test.ts'] },
  ],
};
