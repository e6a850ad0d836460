/**
 * Hostile files end to end: refused or flagged while planning, before any request reaches the
 * platform, and nothing of a file that is not a Dockerfile is shown.
 */
import { describe, it } from '@jest/globals';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { appProject, run, visibleText, simulatorForSuite, type SimulatorHandle } from './support.js';

describe('hostile files (dist/index.js)', () => {
  let s: SimulatorHandle;
  simulatorForSuite((h) => (s = h));
  const platformCalls = (before: number) =>
    s
      .state()
      .requests.slice(before)
      .filter((q) => !q.path.startsWith('/_sim'));

  it('dockerfile: ../../etc/passwd: warned about by resolved path, never quoted, refused before any request', async () => {
    const ws = await appProject();
    const before = s.state().requests.length;
    const r = await run(s, ws, { dockerfile: relative(ws, '/etc/passwd') });
    assert.equal(r.code, 1);
    assert.ok(
      r.annotations.some(
        (a) => a.level === 'warning' && /Input 'dockerfile' resolves to \/etc\/passwd, outside the workspace/.test(a.message),
      ),
      r.stdout,
    );
    assert.match(visibleText(r), /not a Dockerfile/);
    assert.doesNotMatch(visibleText(r), /root:|\/bin\/(ba)?sh|nologin/);
    assert.deepEqual(platformCalls(before), [], 'no request reached the platform');
  });

  it('a context file name that is not UTF-8: refused in planning, before any request', async () => {
    const ws = await appProject();
    await writeFile(Buffer.from(join(ws, 'src', 'bad-\xff.py'), 'latin1'), 'x');
    const before = s.state().requests.length;
    const r = await run(s, ws, {});
    assert.equal(r.code, 1);
    assert.match(visibleText(r), /name is not valid UTF-8/);
    assert.deepEqual(platformCalls(before), [], 'no request reached the platform');
  });

  it('context: / is refused as an input error', async () => {
    const ws = await appProject();
    const before = s.state().requests.length;
    const r = await run(s, ws, { context: '/' });
    assert.equal(r.code, 1);
    assert.match(visibleText(r), /Input 'context': '\/' is the filesystem root/);
    assert.deepEqual(platformCalls(before), []);
  });
});
