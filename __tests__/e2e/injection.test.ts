/**
 * End to end: text the action did not write (the builder's log, platform answers, directory names)
 * never reaches the runner as a workflow command, and every secret is masked before the first line
 * of such text is printed. The runner is modelled by `runnerCommands` (lines end at \n, \r\n and a
 * lone \r; `::cmd::` after leading whitespace, `##[cmd]` anywhere).
 */
import { describe, it } from '@jest/globals';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simulatorForSuite, appProject, dockerLogin, run, assertNoSecrets, makeProject, type SimulatorHandle } from './support.js';
import { runnerCommands, type ActionRun } from '../../tools/action-runner.js';

/** what the user's RUN steps (third-party code) could print */
const HOSTILE_LINES = [
  '::stop-commands::pwned-token',
  '  ::add-mask::Successfully',
  'progress 50%\r::error file=Dockerfile,line=1::forged error after a lone CR',
  'ok ##[warning]forged legacy warning anywhere in a line',
  '::set-output name=template-id::forged-template',
  '::save-state name=builder-sandboxes::[]',
];

/** The commands the action issues itself; anything else in its output came from outside. */
const OWN_COMMANDS = new Set(['group', 'endgroup', 'add-mask', 'debug', 'warning', 'error', 'notice']);

/**
 * Every command the runner would see is one the action issues, in the form it uses; none carries
 * exactly a forged payload (forged text may appear inside the data of the action's own error command).
 */
function assertOnlyOwnCommands(r: ActionRun, forgedData: string[]): void {
  const cmds = runnerCommands(r.stdout + '\n' + r.stderr);
  const foreign = cmds.filter((c) => !OWN_COMMANDS.has(c.name) || c.form === '##[' || forgedData.includes(c.data.trim()));
  assert.deepEqual(
    foreign.map((c) => c.line),
    [],
    'the runner would execute these lines the action did not write',
  );
}

describe('workflow-command injection (dist/index.js)', () => {
  let s: SimulatorHandle;
  simulatorForSuite((h) => (s = h));

  it('hostile builder output is shown but never executed; registry secrets are masked before it', async () => {
    const ws = await appProject();
    const login = await dockerLogin();
    s.addFaults({ kind: 'builderOutput', lines: HOSTILE_LINES });
    const r = await run(s, ws, { name: 'inj-builder' }, { env: login.env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assertOnlyOwnCommands(r, ['Successfully', 'forged error after a lone CR', 'forged legacy warning anywhere in a line']);
    // a person still reads what the builder printed
    const visible = r.stdout.replace(/\u200b/g, '');
    assert.ok(visible.includes('::stop-commands::pwned-token'));
    assert.ok(visible.includes('ok ##[warning]forged legacy warning anywhere in a line'));
    // the forged output and state lines changed nothing
    assert.notEqual(r.outputs['template-id'], 'forged-template');
    // every registry secret was masked before the first platform answer (Prepare) could be printed
    const lines = r.stdout.split('\n');
    const firstPlatformText = lines.indexOf('::group::Prepare');
    assert.ok(firstPlatformText > 0 && firstPlatformText < lines.findIndex((l) => l.includes('pwned-token')));
    for (const secret of login.secrets) {
      const mask = lines.indexOf(`::add-mask::${secret}`);
      assert.ok(mask >= 0 && mask < firstPlatformText, 'registry secret masked before any text from outside');
    }
    assertNoSecrets(r, [...login.secrets], s);
  });

  it('a platform error message with line breaks and commands fails the step without issuing them', async () => {
    const ws = await appProject();
    s.addFaults({
      kind: 'admissionFail',
      message: 'chunk check failed\n::add-mask::Tensorlake\r::warning::forged\n```\n<img src=https://evil.example/p.png>\n##[error]legacy',
    });
    const r = await run(s, ws, { name: 'inj-admission', streaming: 'true' });
    assert.notEqual(r.code, 0);
    assert.equal(r.outputs.status, 'failed');
    assertOnlyOwnCommands(r, ['Tensorlake', 'forged', 'legacy']);
    // the error annotation carries the whole message as data (escaped by the command)
    const err = runnerCommands(r.stdout).find((c) => c.name === 'error' && c.data.includes('chunk check failed'));
    assert.ok(err, 'the failure is reported as one error command');
    // the summary shows the message as escaped, wrapping text, no rendered image
    const outsideCode = r.summary.replace(/(`{3,})text\n[\s\S]*?\n\1(?=\n|$)/g, '').replace(/`[^`\n]*`/g, '');
    assert.doesNotMatch(outsideCode, /<img/);
    assert.ok(r.summary.includes('&#60;img src=https://evil.example/p.png&#62;<br>'), 'the message is shown, escaped, in its paragraph');
  });

  it('a platform field embedded in a status line stays on that line', async () => {
    const ws = await appProject();
    s.addFaults({
      kind: 'status',
      status: 200,
      method: 'POST',
      path: '/platform/v1/keys/introspect',
      body: JSON.stringify({ id: 'k1', organizationId: 'org\n::add-mask::Build', projectId: 'proj\r::stop-commands::t' }),
      contentType: 'application/json',
    });
    const r = await run(s, ws, { name: 'inj-field' });
    assertOnlyOwnCommands(r, ['Build']);
    assert.ok(
      r.stdout.includes('organization org\\n::add-mask::Build, project proj\\r::stop-commands::t'),
      'the value is shown escaped, on the status line',
    );
  });

  it('a directory name with a line break is refused as a derived image name, before any request', async () => {
    const ws = await makeProject({});
    const dir = join(ws, 'app\n::stop-commands::x');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'Dockerfile'), 'FROM alpine:3.20\n');
    const before = s.state().requests.length;
    const r = await run(s, ws, { dockerfile: 'app\n::stop-commands::x/Dockerfile' });
    assert.notEqual(r.code, 0);
    assertOnlyOwnCommands(r, ['x']);
    const err = runnerCommands(r.stdout).find((c) => c.name === 'error');
    assert.match(err?.data ?? '', /image name 'app\\n::stop-commands::x' derived from the Dockerfile path is not a valid image name/);
    assert.match(err?.data ?? '', /Set the name input/);
    assert.equal(s.state().requests.length, before, 'no request reached the platform');
  });
});
