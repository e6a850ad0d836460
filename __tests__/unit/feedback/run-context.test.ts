import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { readRunContext } from '../../../src/feedback/run-context.js';

const HEAD = 'a'.repeat(40);
const files: Record<string, string> = {};
const read = (p: string) => {
  if (!(p in files)) throw new Error(`ENOENT: ${p}`);
  return files[p];
};
function ctx(env: Record<string, string>, payload?: unknown) {
  if (payload !== undefined) files['/ev.json'] = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return readRunContext({ GITHUB_EVENT_PATH: '/ev.json', GITHUB_REPOSITORY: 'o/r', ...env }, read);
}
const pr = (head: string, base = 'o/r') => ({
  pull_request: { number: 5, head: { sha: HEAD, repo: head ? { full_name: head } : null }, base: { repo: { full_name: base } } },
});

test('pull_request: statuses go on the head sha from the payload, not GITHUB_SHA', () => {
  const c = ctx({ GITHUB_EVENT_NAME: 'pull_request', GITHUB_SHA: 'b'.repeat(40) }, pr('o/r'));
  assert.equal(c.statusSha, HEAD);
  assert.deepEqual(c.pullRequest, { number: 5, headSha: HEAD, headRepo: 'o/r', baseRepo: 'o/r', fromFork: false });
  assert.equal(c.payloadProblem, undefined);
});

test('a fork is a head repository other than the base (case-insensitive); a deleted fork counts as one', () => {
  assert.equal(ctx({ GITHUB_EVENT_NAME: 'pull_request' }, pr('stranger/r')).pullRequest?.fromFork, true);
  assert.equal(ctx({ GITHUB_EVENT_NAME: 'pull_request_target' }, pr('O/R')).pullRequest?.fromFork, false);
  assert.equal(ctx({ GITHUB_EVENT_NAME: 'pull_request' }, pr('')).pullRequest?.fromFork, true);
});

test('push: the pushed commit; a deleted branch has none', () => {
  assert.equal(ctx({ GITHUB_EVENT_NAME: 'push', GITHUB_SHA: 'c'.repeat(40) }, { after: 'd'.repeat(40) }).statusSha, 'd'.repeat(40));
  const gone = ctx({ GITHUB_EVENT_NAME: 'push', GITHUB_SHA: '0'.repeat(40) }, { after: '0'.repeat(40) });
  assert.equal(gone.statusSha, undefined);
  assert.match(gone.payloadProblem!, /deleted branch/);
});

test('other events have no target; unreadable or malformed payloads say why', () => {
  const d = ctx({ GITHUB_EVENT_NAME: 'workflow_dispatch', GITHUB_SHA: 'c'.repeat(40) }, {});
  assert.equal(d.statusSha, undefined);
  assert.equal(d.pullRequest, undefined);
  assert.match(ctx({ GITHUB_EVENT_NAME: 'pull_request' }, '{not json').payloadProblem!, /cannot be read/);
  assert.match(
    ctx({ GITHUB_EVENT_NAME: 'pull_request' }, { pull_request: { number: 1, head: { sha: 'short' } } }).payloadProblem!,
    /head sha/,
  );
  assert.match(readRunContext({ GITHUB_EVENT_NAME: 'push' }, read).payloadProblem!, /GITHUB_EVENT_PATH is not set/);
});

test('the run URL names the attempt after the first', () => {
  const env = { GITHUB_EVENT_NAME: 'push', GITHUB_SERVER_URL: 'https://ghe.example/', GITHUB_RUN_ID: '77' };
  assert.equal(ctx({ ...env, GITHUB_RUN_ATTEMPT: '1' }, {}).runUrl, 'https://ghe.example/o/r/actions/runs/77');
  assert.equal(ctx({ ...env, GITHUB_RUN_ATTEMPT: '3' }, {}).runUrl, 'https://ghe.example/o/r/actions/runs/77/attempts/3');
  assert.equal(ctx({ GITHUB_EVENT_NAME: 'push' }, {}).runUrl, undefined);
});
