/** Shared setup for end-to-end tests: a simulator per test file, projects, credentials, leak checks. */
import assert from 'node:assert/strict';
import { beforeAll, afterAll, afterEach } from '@jest/globals';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../../simulator/index.js';
import type { SimulatorHandle, SimulatorOptions } from '../../simulator/types.js';
import { makeProject, runAction, visibleText, SIM_KEY, SIM_PAT, type ActionRun, type RunActionOptions } from '../../tools/action-runner.js';

export { SIM_KEY, SIM_PAT, makeProject, runAction, visibleText };
export type { ActionRun, SimulatorHandle };

export const FAST: SimulatorOptions = {
  quiet: true,
  builderLineDelayMs: 1,
  sandboxPendingMs: 20,
  admissionBytesPerSecond: 64 * 1024 * 1024,
  admissionMinMs: 10,
};

export function sim(opts: SimulatorOptions = {}): Promise<SimulatorHandle> {
  return startSimulator({ ...FAST, ...opts });
}

export const DOCKERFILE = [
  '# syntax=docker/dockerfile:1',
  'FROM python:3.12-slim',
  'WORKDIR /app',
  'COPY requirements.txt .',
  'RUN pip install -r requirements.txt \\',
  '    # comment inside a continuation, like Docker allows',
  '    && echo done',
  'COPY src/ ./src/',
  'EXPOSE 8080',
  'LABEL org.opencontainers.image.source=example',
  'CMD ["python", "-m", "src.main"]',
  '',
].join('\n');

export function appProject(extra: Record<string, string> = {}, dockerfile = DOCKERFILE): Promise<string> {
  return makeProject({
    Dockerfile: dockerfile,
    'requirements.txt': 'requests==2.32.3\n',
    'src/main.py': 'print("hi")\n',
    'src/util/helpers.py': 'X = 1\n',
    ...extra,
  });
}

/** A Docker config as docker/login-action writes it; returns the env to point the action at it and the secrets in it. */
export async function dockerLogin(): Promise<{ env: Record<string, string>; secrets: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'docker-config-'));
  await mkdir(dir, { recursive: true });
  const password = 'ghp_RegistryPassw0rdSecretValue';
  const auth = Buffer.from(`octocat:${password}`).toString('base64');
  await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { 'ghcr.io': { auth } } }));
  return { env: { DOCKER_CONFIG: dir }, secrets: [password, auth] };
}

export function baseInputs(s: SimulatorHandle, extra: Record<string, string> = {}): Record<string, string> {
  return { 'api-key': SIM_KEY, 'api-url': s.url, 'poll-interval': '100ms', ...extra };
}

export async function run(
  s: SimulatorHandle,
  workspace: string,
  inputs: Record<string, string>,
  opts: Partial<RunActionOptions> = {},
): Promise<ActionRun> {
  return runAction({ workspace, inputs: baseInputs(s, inputs), timeoutMs: 90_000, ...opts });
}

export function assertNoSandboxRunning(s: SimulatorHandle): void {
  const alive = s.state().sandboxes.filter((x) => x.status !== 'terminated');
  assert.deepEqual(
    alive.map((x) => `${x.id}:${x.status}`),
    [],
    'no builder sandbox may be left running',
  );
}

/** Every secret value is absent from stdout (but add-mask commands), stderr, summary and outputs. */
export function assertNoSecrets(r: ActionRun, secrets: string[], s?: SimulatorHandle): void {
  const text = visibleText(r);
  const all = [...secrets];
  if (s) {
    // signed URLs the simulator handed out (blob signing) are secrets too
    for (const sb of s.state().sandboxes) {
      for (const sp of sb.specs) {
        const up = (sp.spec as Record<string, unknown> | null)?.upload as Record<string, unknown> | undefined;
        for (const u of (up?.partUrls as string[] | undefined) ?? []) all.push(u);
      }
    }
  }
  for (const secret of all) assert.ok(!text.includes(secret), `secret leaked: ${secret.slice(0, 6)}…`);
}

export function lineIndex(r: ActionRun, re: RegExp): number {
  return r.lines.findIndex((l) => re.test(l));
}

/**
 * One simulator for a test suite: started before it, stopped after it; after every test no builder
 * sandbox may be left running, and the test's fault rules are cleared.
 */
export function simulatorForSuite(set: (s: SimulatorHandle) => void, opts: SimulatorOptions = {}): void {
  let s: SimulatorHandle | undefined;
  beforeAll(async () => {
    s = await sim(opts);
    set(s);
  });
  afterAll(async () => s?.stop());
  afterEach(() => {
    if (!s) return;
    // faults first: a leak in one test must not leave its fault rules armed for every later test
    s.clearFaults();
    assertNoSandboxRunning(s);
  });
}
