/**
 * The demo's promise: for every example Dockerfile, the (simulated) builder shows one step per
 * instruction the planner saw, with the same text, and says that it is simulated.
 */
import { describe, it } from '@jest/globals';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseDockerfile } from '../../src/dockerfile/parse.js';
import { ROOT } from '../../tools/action-runner.js';
import { simulatorForSuite, run, assertNoSandboxRunning, type SimulatorHandle } from './support.js';

function exampleDockerfiles(dir = join(ROOT, 'examples')): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...exampleDockerfiles(p));
    else if (name === 'Dockerfile' || name.endsWith('.Dockerfile')) out.push(p);
  }
  return out;
}

describe('examples: builder steps are the planner instructions', () => {
  let s: SimulatorHandle;
  simulatorForSuite((h) => (s = h));

  const files = exampleDockerfiles();
  it('there are examples to check', () => assert.ok(files.length >= 2, files.join(', ')));

  for (const file of files) {
    it(relative(ROOT, file), async () => {
      const r = await run(s, ROOT, { dockerfile: relative(ROOT, file) });
      assert.equal(r.code, 0, r.stdout.slice(-3000));
      const sb = s.state().sandboxes.find((x) => x.id === r.outputs['builder-sandbox-id'])!;
      const builder = sb.processes.find((p) => p.command.endsWith('tl-rootfs-build'))!;
      assert.match(builder.output[0].line, /^SIMULATED /, 'the first builder line says it is simulated');
      const steps = builder.output.map((o) => /^#\d+ \[(\d+)\/(\d+)\] (.*)$/.exec(o.line)).filter((m) => m !== null);
      const instructions = parseDockerfile(readFileSync(file, 'utf8')).instructions;
      assert.deepEqual(
        steps.map((m) => [Number(m[1]), Number(m[2]), m[3]]),
        instructions.map((ins, i) => [i + 1, instructions.length, ins.original.trim()]),
      );
      // what a person reads in the Build group: the same steps
      for (const m of steps) assert.ok(r.stdout.includes(m[0]), m[0]);
      assertNoSandboxRunning(s);
    });
  }
});
