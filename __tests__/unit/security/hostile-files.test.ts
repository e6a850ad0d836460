/**
 * Files a workflow can point the action at that are not what they seem: a system file given as the
 * Dockerfile, a Dockerfile or context outside the workspace, the filesystem root as the context, a
 * context whose file names are not UTF-8. Each is handled in planning, before any network call.
 */
import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InputSource } from '../../../src/input-readers.js';
import { readInputs } from '../../../src/inputs.js';
import { planDockerfile } from '../../../src/dockerfile/plan.js';
import { ActionError } from '../../../src/errors.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n';

function workspace(): string {
  const ws = mkdtempSync(join(tmpdir(), 'hostile-'));
  writeFileSync(join(ws, 'Dockerfile'), 'FROM ubuntu\n');
  return ws;
}
const src = (ws: string, inputs: Record<string, string>, env: Record<string, string> = {}): InputSource => ({
  input: (n) => ({ 'api-key': 'key_abcdef', ...inputs })[n] ?? '',
  env,
  workspace: ws,
});

test('a file that does not parse as a Dockerfile is never quoted in the error', () => {
  for (const text of [PASSWD, 'vm-hostname-7\n', 'PRETTY_NAME="Debian GNU/Linux 12"\n', '{"private": "x"}\n']) {
    assert.throws(
      () => planDockerfile({ text, dockerfilePath: '/etc/passwd', contextDir: '/tmp' }),
      (e: unknown) => {
        assert.ok(e instanceof ActionError);
        assert.match(e.message, /not a Dockerfile/);
        const first = text.split('\n')[0];
        for (const part of [first, first.split(/[\s:=]/)[0]]) assert.ok(!e.message.includes(part), `quoted '${part}': ${e.message}`);
        return true;
      },
    );
  }
  // a Dockerfile with a typo still names the unknown instruction word (and only the word)
  assert.throws(
    () => planDockerfile({ text: 'FROM ubuntu\nRUNN apt-get install secret-thing\n', dockerfilePath: 'Dockerfile', contextDir: '/tmp' }),
    (e: unknown) => e instanceof ActionError && /line 2: unknown instruction: RUNN/.test(e.message) && !e.message.includes('secret-thing'),
  );
});

test('a Dockerfile or context outside the workspace and RUNNER_TEMP gets a warning naming the resolved path', () => {
  const ws = workspace();
  const outside = mkdtempSync(join(tmpdir(), 'elsewhere-'));
  writeFileSync(join(outside, 'Dockerfile'), 'FROM ubuntu\n');
  const rel = join('..', outside.split('/').pop()!, 'Dockerfile');
  const i = readInputs(src(ws, { dockerfile: rel }));
  const real = realpathSync(join(outside, 'Dockerfile'));
  assert.ok(
    i.pathWarnings.some((w) => w.includes(`dockerfile`) && w.includes(real) && /outside the workspace/.test(w)),
    JSON.stringify(i.pathWarnings),
  );
  assert.ok(i.pathWarnings.some((w) => w.includes('context') && w.includes(realpathSync(outside))));
  // inside RUNNER_TEMP (where generated Dockerfiles live) and inside the workspace: no warning
  assert.deepEqual(readInputs(src(ws, { dockerfile: rel }, { RUNNER_TEMP: outside })).pathWarnings, []);
  assert.deepEqual(readInputs(src(ws, {})).pathWarnings, []);
});

test('context: / is refused in planning, naming the input', () => {
  const ws = workspace();
  assert.throws(
    () => readInputs(src(ws, { context: '/' })),
    (e: unknown) => e instanceof ActionError && e.kind === 'input' && e.input === 'context' && /filesystem root/.test(e.message),
  );
});
// A context file name that is not UTF-8 is refused by the Package phase, before any request:
// __tests__/e2e/hostile-files.test.ts checks it end to end.
