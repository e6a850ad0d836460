/**
 * The end-to-end job of .github/workflows/ci.yml, run here the way a runner runs it: its `run:`
 * steps through `bash -e -o pipefail` with GITHUB_ENV, its `uses: ./` steps as the bundled action
 * (dist/index.js, what `uses: ./` runs) with their `with:` inputs, `continue-on-error` and
 * outcomes. The job passes, and it fails when its build that must fail does not.
 */
import { describe, it } from '@jest/globals';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT, parseRunnerFile, runAction } from '../../tools/action-runner.js';

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  'continue-on-error'?: boolean;
}
interface Job {
  env?: Record<string, string>;
  steps: Step[];
}

const ci = parse(await readFile(join(ROOT, '.github', 'workflows', 'ci.yml'), 'utf8')) as { jobs: Record<string, Job> };

/** The job's own setup (checkout, setup-node, npm ci) is this checkout, already installed. */
const isSetup = (s: Step) => (s.uses !== undefined && s.uses !== './') || /^npm ci\b/.test(s.run ?? '');

interface JobRun {
  ok: boolean;
  log: string[];
  outcomes: Record<string, string>;
}

async function runJob(job: Job, mutate: (steps: Step[]) => Step[] = (s) => s): Promise<JobRun> {
  const temp = await mkdtemp(join(tmpdir(), 'ci-job-'));
  const githubEnv = join(temp, 'github_env');
  await writeFile(githubEnv, '');
  const env: Record<string, string> = { ...job.env };
  const steps: Record<string, { outcome: string; outputs: Record<string, string> }> = {};
  const log: string[] = [];
  const groups = new Set<number>(); // process groups of run steps: background processes live on in them
  const expr = (text: string) =>
    text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, e: string) => {
      let m = /^env\.(\w+)$/.exec(e);
      if (m) return env[m[1]] ?? '';
      m = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(e);
      if (m) return steps[m[1]]?.outputs[m[2]] ?? '';
      m = /^steps\.([\w-]+)\.outcome$/.exec(e);
      if (m) return steps[m[1]]?.outcome ?? '';
      throw new Error(`expression this test cannot evaluate: ${e}`);
    });
  let failed = false;
  try {
    for (const step of mutate(job.steps)) {
      if (isSetup(step)) continue;
      if (step.if !== undefined) {
        assert.equal(step.if, 'failure()', `${step.name}: only if: failure() is supported here`);
        if (!failed) continue;
      } else if (failed) continue;
      let outcome: string;
      const outputs: Record<string, string> = {};
      if (step.uses === './') {
        const inputs = Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, expr(String(v))]));
        const r = await runAction({ inputs, timeoutMs: 120_000 });
        Object.assign(outputs, r.outputs);
        outcome = r.code === 0 ? 'success' : 'failure';
      } else {
        assert.ok(step.run, `${step.name}: a run or uses ./ step`);
        const stepEnv = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expr(v)]));
        const child = spawn('bash', ['--noprofile', '--norc', '-e', '-o', 'pipefail', '-c', step.run], {
          cwd: ROOT,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { PATH: process.env.PATH ?? '', HOME: temp, RUNNER_TEMP: temp, GITHUB_ENV: githubEnv, ...env, ...stepEnv },
        });
        groups.add(child.pid!);
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
        if (out.trim()) log.push(out.trim());
        outcome = code === 0 ? 'success' : 'failure';
        Object.assign(env, parseRunnerFile(await readFile(githubEnv, 'utf8')));
      }
      log.push(`${step.name ?? step.run ?? step.uses}: ${outcome}`);
      if (step.id) steps[step.id] = { outcome, outputs };
      if (outcome === 'failure' && !step['continue-on-error']) failed = true;
    }
  } finally {
    for (const g of groups) {
      try {
        process.kill(-g, 'SIGTERM');
      } catch {
        // the group has already exited
      }
    }
    await rm(temp, { recursive: true, force: true });
  }
  return { ok: !failed, log, outcomes: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, v.outcome])) };
}

describe('ci.yml e2e job, run locally against the bundle', () => {
  it('passes: ext4 and streaming builds succeed, the build that must fail fails with its message', async () => {
    const r = await runJob(ci.jobs.e2e);
    assert.ok(r.ok, r.log.join('\n'));
    assert.deepEqual(r.outcomes, { ext4: 'success', streaming: 'success', oom: 'failure' }, r.log.join('\n'));
  });

  it('fails when the build that must fail succeeds (no fault injected)', async () => {
    const r = await runJob(ci.jobs.e2e, (steps) => steps.filter((s) => !/_sim\/faults/.test(s.run ?? '')));
    assert.equal(r.ok, false, r.log.join('\n'));
    assert.equal(r.outcomes.oom, 'success');
    assert.match(r.log.join('\n'), /Check the failure, its message and that no builder sandbox is left: failure/);
  });
});
