/**
 * Packaging runs alongside Prepare and Builder sandbox; when it fails only after the sandbox
 * exists, the failure is the runner's, not the builder's: no builder diagnostics, no builder advice.
 */
import { afterAll, beforeAll, expect, jest, test } from '@jest/globals';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../../../simulator/index.js';
import type { SimulatorHandle } from '../../../simulator/types.js';
import type { BuildEvents } from '../../../src/pipeline/events.js';
import { ActionError } from '../../../src/errors.js';
import { SecretRegistry } from '../../../src/secrets.js';
import { nullEvents, silentLog } from '../fakes.js';

const archive = await import('../../../src/context/archive.js');
let sandboxCreated: () => void = () => undefined;
let sandboxExists = new Promise<void>((r) => (sandboxCreated = r));
// the archive fails the way a full runner disk fails it, once the builder sandbox exists
jest.unstable_mockModule('../../../src/context/archive.js', () => ({
  ...archive,
  createContextArchive: async () => {
    await sandboxExists;
    throw new ActionError('No space left to write the build context archive /runner/temp/x.tar.gz', { kind: 'context' });
  },
}));
const { runBuild } = await import('../../../src/pipeline/pipeline.js');
const { readInputs } = await import('../../../src/inputs.js');
const { DISK_ADVICE, DMESG_SCRIPT } = await import('../../../src/pipeline/diagnostics.js');

let s: SimulatorHandle;
beforeAll(async () => {
  s = await startSimulator({ quiet: true, sandboxPendingMs: 20 });
});
afterAll(() => s.stop());

test('a packaging failure after the sandbox exists gets no builder diagnostics or builder advice', async () => {
  const ws = mkdtempSync(join(tmpdir(), 'late-pkg-'));
  writeFileSync(join(ws, 'Dockerfile'), 'FROM python:3.12-slim\nCOPY a.txt /a.txt\n');
  writeFileSync(join(ws, 'a.txt'), 'a');
  const temp = join(ws, 'temp');
  mkdirSync(temp);
  const inputs: Record<string, string> = { 'api-key': 'tl_sim_key_0123456789', 'api-url': s.url, 'poll-interval': '100ms' };
  const req = readInputs({ input: (n) => inputs[n] ?? '', env: { RUNNER_TEMP: temp }, workspace: ws });
  sandboxExists = new Promise<void>((r) => (sandboxCreated = r));
  const events: BuildEvents = { ...nullEvents, sandboxCreated: () => sandboxCreated() };
  const r = await runBuild(req, { events, secrets: new SecretRegistry(), log: silentLog, env: { RUNNER_TEMP: temp } });
  assert.equal(r.status, 'failed');
  assert.ok(r.builderSandboxId, 'the sandbox was created before packaging failed');
  assert.match(r.error?.message ?? '', /No space left to write the build context archive/);
  assert.equal(r.error?.kind, 'context', 'still the context error');
  assert.ok(!r.error?.advice.includes(DISK_ADVICE), `no builder disk advice: ${r.error?.advice.join(' | ')}`);
  const ran = s
    .state()
    .sandboxes.flatMap((x) => x.processes)
    .filter((p) => p.args.includes(DMESG_SCRIPT));
  expect(ran.map((p) => p.args)).toStrictEqual([]);
  assert.equal(r.sandboxDeleted, true);
  expect(readdirSync(temp)).toStrictEqual([]);
});
