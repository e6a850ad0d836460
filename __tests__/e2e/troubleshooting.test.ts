/**
 * The README's Troubleshooting section quotes the messages the action prints: each quoted message
 * (`<…>` marks the parts that differ between runs) must match, line for line, what the bundled
 * action prints when the simulator injects that fault, as the ::error:: annotation and the `error` output.
 */
import { describe, it } from '@jest/globals';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../tools/action-runner.js';
import {
  sim,
  simulatorForSuite,
  appProject,
  makeProject,
  run,
  assertNoSandboxRunning,
  SIM_PAT,
  type ActionRun,
  type SimulatorHandle,
} from './support.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const quoted = new Map([...readme.matchAll(/^<!-- message: ([\w-]+) -->\n```text\n([\s\S]*?)\n```$/gm)].map((m) => [m[1], m[2]]));

/** A quoted message as a pattern: literal text, `<…>` placeholders match anything within a line. */
function pattern(message: string): RegExp {
  const parts = message.split(/<[^<>\n]+>/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('[^\\n]+?')}$`);
}

function assertPrints(r: ActionRun, name: string): void {
  const message = quoted.get(name);
  assert.ok(message, `README quotes the ${name} message`);
  assert.equal(r.code, 1, r.stdout);
  assert.equal(r.outputs.status, 'failed');
  const errors = r.annotations.filter((a) => a.level === 'error');
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.equal(r.outputs.error, errors[0].message, 'the error output is the message the step failed with');
  assert.match(errors[0].message, pattern(message), `README's ${name} message is what the action prints`);
}

const CASES = [
  'api-key-rejected',
  'pat-rejected',
  'no-credentials',
  'builder-oom',
  'builder-disk-full',
  'admission-failed',
  'admission-timeout',
  'context-too-large',
];

describe('README troubleshooting messages (dist/index.js against the simulator)', () => {
  let s: SimulatorHandle;
  simulatorForSuite((h) => (s = h));

  it('the README quotes exactly the cases this test runs', () => {
    assert.deepEqual([...quoted.keys()].sort(), [...CASES].sort());
  });

  it('a placeholder stands for varying text within a line, nothing else', () => {
    const p = pattern('timed out after <limit> (admission-timeout)\nRaise it. (build: <id>)');
    assert.match('timed out after 1s (admission-timeout)\nRaise it. (build: b_1)', p);
    assert.doesNotMatch('timed out after 1s (admission-timeout)\nRaise it.', p);
    assert.doesNotMatch('timed out after 1s\nmore (admission-timeout)\nRaise it. (build: b_1)', p);
    assert.doesNotMatch('Timed out after 1s (admission-timeout)\nRaise it. (build: b_1)', p);
  });

  it('api-key-rejected', async () => {
    s.addFaults({ kind: 'rejectAuth', times: -1 });
    assertPrints(await run(s, await appProject(), {}), 'api-key-rejected');
  });

  it('pat-rejected', async () => {
    s.addFaults({ kind: 'rejectAuth', times: -1 });
    const r = await run(s, await appProject(), { 'api-key': '', pat: SIM_PAT, 'organization-id': 'org_sim', 'project-id': 'proj_sim' });
    assertPrints(r, 'pat-rejected');
  });

  it('no-credentials', async () => {
    const before = s.state().requests.length;
    const r = await run(s, await appProject(), { 'api-key': '' });
    assertPrints(r, 'no-credentials');
    assert.equal(s.state().requests.length, before, 'nothing was sent');
  });

  it('builder-oom', async () => {
    s.addFaults({ kind: 'builderOom' });
    assertPrints(await run(s, await appProject(), {}), 'builder-oom');
  });

  it('builder-disk-full', async () => {
    s.addFaults({ kind: 'builderEnospc' });
    assertPrints(await run(s, await appProject(), {}), 'builder-disk-full');
  });

  it('admission-failed', async () => {
    s.addFaults({ kind: 'corruptChunk', chunkIndex: 1 });
    assertPrints(await run(s, await appProject(), { streaming: 'true' }), 'admission-failed');
  });

  it('admission-timeout', async () => {
    s.addFaults({ kind: 'admissionHang' });
    assertPrints(
      await run(s, await appProject(), { streaming: 'true', 'admission-timeout': '1s', 'poll-interval': '200ms' }),
      'admission-timeout',
    );
  });

  it('context-too-large', async () => {
    const small = await sim({ maxBodyBytes: 64 * 1024 });
    try {
      // incompressible bytes, so that the archive is larger than the limit
      const noise = randomBytes(96 * 1024).toString('base64');
      const r = await run(small, await makeProject({ Dockerfile: 'FROM python:3.12-slim\nCOPY . /app\n', 'data.txt': noise }), {});
      assertPrints(r, 'context-too-large');
      assertNoSandboxRunning(small);
    } finally {
      await small.stop();
    }
  });
});
