import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { runBuilder, type BuilderEvidence } from '../../../src/pipeline/builder-run.js';
import { DEFAULT_LIMITS, type BuildSession } from '../../../src/pipeline/session.js';
import { nullEvents, silentLog } from '../fakes.js';
import type { SandboxProxy } from '../../../src/platform/proxy.js';
import type { PreparedBuild } from '../../../src/platform/types.js';
import { ActionError } from '../../../src/errors.js';
import { SecretRegistry } from '../../../src/secrets.js';

/** A builder that prints `lines` lines `everyMs` apart, counting health pings. */
function fakeProxy(lines: number, everyMs: number) {
  const state = { running: true, health: 0, lines: [] as string[] };
  const proxy = {
    async startProcess(p: { command: string; args: string[] }) {
      return { pid: 7, status: 'running', command: p.command, args: p.args, oom_killed: false };
    },
    async *followOutput(_pid: number, signal?: AbortSignal) {
      for (let i = 0; i < lines; i++) {
        await delay(everyMs);
        if (signal?.aborted) throw new ActionError('the run was cancelled', { kind: 'cancelled' });
        yield { line: `step ${i}`, stream: 'stdout' as const };
      }
      state.running = false;
    },
    async getProcess() {
      return state.running
        ? { pid: 7, status: 'running', command: 'b', args: [], oom_killed: false }
        : { pid: 7, status: 'exited', exit_code: 0, command: 'b', args: [], oom_killed: false };
    },
    async listProcesses() {
      return [];
    },
    async health() {
      state.health++;
      return true;
    },
    sleep: (ms: number) => delay(ms),
  };
  return { proxy: proxy as unknown as SandboxProxy, state };
}

const prep = {
  buildId: 'b',
  snapshotId: 's',
  rootfsNodeKind: 'base',
  builder: { image: 'i', command: 'tl-rootfs-build', cpus: 1, memoryMb: 1, diskMb: 1 },
  raw: {},
} as PreparedBuild;

function session(keepaliveMs: number, buildTimeoutMs = 60_000): { s: BuildSession; logs: string[] } {
  const logs: string[] = [];
  const events = { ...nullEvents, buildLog: (_st: string, line: string) => void logs.push(line) };
  const s = {
    req: { buildTimeoutMs },
    deps: { events, secrets: new SecretRegistry(), log: silentLog, env: {} },
    events,
    limits: { ...DEFAULT_LIMITS, keepaliveMs },
    now: Date.now,
    sleep: (ms: number) => delay(ms),
  } as unknown as BuildSession;
  return { s, logs };
}

test('keepalive: health pings while the builder runs, none after it ends (§5.3)', async () => {
  const { proxy, state } = fakeProxy(12, 25);
  const { s, logs } = session(40);
  const evidence: BuilderEvidence = { sawDiskSpaceEvidence: false };
  await runBuilder(s, { proxy, prep, evidence });
  assert.equal(logs.length, 12, 'every builder line reached the log');
  const during = state.health;
  assert.ok(during >= 4, `pinged ${during} times during a ~300 ms run at a 40 ms interval`);
  await delay(150);
  assert.equal(state.health, during, 'the keepalive stopped with the builder');
});

test('build-timeout ends a builder that runs too long, naming the input', async () => {
  const { proxy } = fakeProxy(1000, 20);
  const { s } = session(10_000, 150);
  await assert.rejects(
    runBuilder(s, { proxy, prep, evidence: { sawDiskSpaceEvidence: false } }),
    /the builder did not finish within 150ms \(build-timeout\)/,
  );
});
