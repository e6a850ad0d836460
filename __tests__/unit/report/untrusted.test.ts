import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { neutraliseLog, oneLine, escapeHtml, fencedBlock, hasControlCharacters } from '../../../src/report/untrusted.js';
import { guardedCore, type CorePort } from '../../../src/report/core-port.js';
import { PostStateWriter } from '../../../src/post-state.js';
import { GitHubReporter } from '../../../src/report/reporter.js';
import { renderSummary } from '../../../src/report/summary.js';
import { ActionError } from '../../../src/errors.js';
import type { BuildResult } from '../../../src/pipeline/result.js';
import { buildResult } from '../fakes.js';
import { runnerCommands } from '../../../tools/action-runner.js';

/** Lines a builder (i.e. the user's RUN steps, third-party code) or a platform answer could carry. */
const HOSTILE = [
  '::stop-commands::pwned',
  '  ::add-mask::harmless-looking',
  '\t::error file=x,line=1::forged error',
  'progress 10%\r::warning::forged after a lone CR',
  'progress 20%\r\n::notice::forged after CRLF',
  'text then ##[add-mask]legacy form anywhere in the line',
  '##[group]forged group',
  'ok\n::set-output name=template-id::forged',
];

const ZWSP = /\u200b/g;

test('neutraliseLog: no hostile line survives as a runner command, and the text reads the same', () => {
  for (const h of HOSTILE) {
    assert.ok(runnerCommands(h).length > 0, `the model must see a command in ${JSON.stringify(h)}`);
    const out = neutraliseLog(h);
    assert.deepEqual(runnerCommands(out), [], `still a command: ${JSON.stringify(out)}`);
    // what a person sees: the same characters, line breaks where the runner would put them
    assert.equal(out.replace(ZWSP, ''), h.replace(/\r\n|\r/g, '\n'));
  }
});

test('neutraliseLog: ordinary text is unchanged; applying it twice changes nothing more', () => {
  for (const t of ['#5 0.123 pip install -r requirements.txt', 'a :: b', 'C:\\path', 'url https://x/y?a=1::2', '']) {
    assert.equal(neutraliseLog(t), t);
  }
  for (const h of HOSTILE) assert.equal(neutraliseLog(neutraliseLog(h)), neutraliseLog(h));
});

test('oneLine: control characters become visible escapes; hasControlCharacters finds them', () => {
  assert.equal(oneLine('running\n::warning::x'), 'running\\n::warning::x');
  assert.equal(oneLine('a\rb\u001b[31mc\u2028d'), 'a\\rb\\u001b[31mc\\u2028d');
  assert.equal(oneLine('tab\tstays'), 'tab\tstays');
  assert.ok(hasControlCharacters('app\n'));
  assert.ok(hasControlCharacters('a\u0085b'));
  assert.ok(!hasControlCharacters('plain-name_1.2'));
  assert.ok(!hasControlCharacters('plain-name_1.2'), 'a second call gives the same answer (no regex state)');
});

test('escapeHtml and fencedBlock: summary text cannot render HTML or close its code block', () => {
  assert.equal(escapeHtml('<img src=x onerror=alert(1)> & "q"'), '&#60;img src=x onerror=alert(1)&#62; &#38; &#34;q&#34;');
  const text = 'before\n```\n<b>after the fence</b>\n````';
  const block = fencedBlock(text);
  const fence = block.split('\n')[0].replace('text', '');
  assert.equal(fence, '`````', 'the fence is longer than any backtick run in the text');
  assert.ok(!text.split('\n').some((l) => l.startsWith(fence)));
});

function recorder(): { core: CorePort; out: string[] } {
  const out: string[] = [];
  const cmd = (name: string) => (m: string) => out.push(`::${name}::${m.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')}`);
  const core: CorePort = {
    info: (m) => out.push(m),
    debug: cmd('debug'),
    warning: cmd('warning'),
    error: cmd('error'),
    notice: cmd('notice'),
    startGroup: cmd('group'),
    endGroup: () => out.push('::endgroup::'),
    setOutput: () => {},
    saveState: () => {},
    setFailed: cmd('error'),
    setSecret: cmd('add-mask'),
  };
  return { core, out };
}

test('guardedCore: info lines are neutralised, commands the action issues are kept', () => {
  const { core, out } = recorder();
  const g = guardedCore(core);
  g.setSecret('s3cr3t-value');
  for (const h of HOSTILE) g.info(h);
  g.warning('a warning the action means');
  const cmds = runnerCommands(out.join('\n'));
  assert.deepEqual(
    cmds.map((c) => c.name),
    ['add-mask', 'warning'],
  );
});

test('reporter: builder lines and platform fields in status lines never become commands', () => {
  const { core, out } = recorder();
  const r = new GitHubReporter(core, {
    annotations: true,
    redact: (t) => t,
    postState: new PostStateWriter((k, v) => core.saveState(k, v)),
  });
  r.phaseStart('build');
  for (const h of HOSTILE) r.buildLog('stdout', h);
  for (const h of HOSTILE) r.buildLog('stderr', h);
  r.status(`Sandbox status: pending\n::add-mask::x`);
  r.status(`Registered template forged\r::stop-commands::t`);
  r.phaseEnd('build', 'ok', 10);
  const cmds = runnerCommands(out.join('\n'));
  assert.deepEqual([...new Set(cmds.map((c) => c.name))], ['group', 'endgroup']);
  // a status line stays one line: the platform's value cannot pose as a line of its own
  assert.ok(out.includes('Sandbox status: pending\\n::add-mask::x'));
  assert.ok(out.includes('Registered template forged\\r::stop-commands::t'));
});

test('summary: error text, builder log tail and warnings cannot inject HTML or leave their blocks', () => {
  const result: BuildResult = buildResult({
    status: 'failed',
    name: 'app',
    templateName: 'forged`name\n| injected | row |',
    error: new ActionError('admission failed: ```\n<img src=https://evil.example/pixel>\n```', { kind: 'admission' }),
  });
  const md = renderSummary(result, ['context: skipped <script>alert(1)</script>\n- forged item'], (t) => t, [
    'RUN output ```',
    '<iframe src=x>',
  ]);
  // outside code blocks and spans, no raw tag
  const outsideCode = md.replace(/(`{3,})text\n[\s\S]*?\n\1(?=\n|$)/g, '').replace(/`[^`\n]*`/g, '');
  assert.doesNotMatch(outsideCode, /<(img|script|iframe)/i);
  // the forged table row stayed inside its cell
  assert.equal(md.split('\n').filter((l) => l.startsWith('| injected')).length, 0);
  assert.equal(md.split('\n').filter((l) => l.startsWith('- forged item')).length, 0);
  // the error's text is all there, escaped, in one wrapping paragraph (an HTML block with no blank line)
  assert.match(md, /<p>\nadmission failed: ```<br>\n&#60;img src=https:\/\/evil\.example\/pixel&#62;<br>\n```<br>\n<\/p>/);
});
