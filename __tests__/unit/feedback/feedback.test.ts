import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { PrFeedback, type FeedbackPorts } from '../../../src/feedback/feedback.js';
import { GitHubError, connectGitHub, type GitHubApi, type CommitStatus } from '../../../src/feedback/github-api.js';
import { commentMarker, finalStatus, renderComment, statusContext, MAX_DESCRIPTION } from '../../../src/feedback/render.js';
import type { RunContext } from '../../../src/feedback/run-context.js';
import type { FeedbackInputs } from '../../../src/inputs.js';
import type { BuildResult } from '../../../src/pipeline/result.js';
import { buildResult } from '../fakes.js';
import { ActionError } from '../../../src/errors.js';
import { SecretRegistry } from '../../../src/secrets.js';
import { startGitHubFake, FAKE_GITHUB_TOKEN } from '../../../simulator/github.js';

const SHA = 'f'.repeat(40);
const PR_CTX: RunContext = {
  eventName: 'pull_request',
  repository: 'o/r',
  statusSha: SHA,
  pullRequest: { number: 3, headSha: SHA, headRepo: 'o/r', baseRepo: 'o/r', fromFork: false },
  runUrl: 'https://github.com/o/r/actions/runs/1',
};
const ON: FeedbackInputs = { githubToken: 'ghs_token1234', commitStatus: true, statusContext: '', prComment: true };

const result = (over: Partial<BuildResult> = {}): BuildResult => buildResult({ templateId: 'tpl_1', templateName: 'app', ...over });

/** A recording GitHubApi; `fail` decides per call whether it throws. */
function recorder(fail: (call: string) => unknown = () => undefined) {
  const calls: string[] = [];
  const statuses: CommitStatus[] = [];
  const comments = new Map<number, string>();
  let id = 1;
  const api: GitHubApi = {
    async createStatus(s) {
      calls.push(`status ${s.state}`);
      const e = fail('status');
      if (e) throw e;
      statuses.push(s);
    },
    async findComment(_issue, match) {
      calls.push('find');
      const e = fail('find');
      if (e) throw e;
      for (const [cid, body] of comments) if (match(body)) return { id: cid, body };
      return undefined;
    },
    async createComment(_issue, body) {
      calls.push('create');
      const e = fail('create');
      if (e) throw e;
      comments.set(id, body);
      return { id: id++, body };
    },
    async updateComment(cid, body) {
      calls.push(`update ${cid}`);
      comments.set(cid, body);
    },
  };
  return { api, calls, statuses, comments };
}

function ports(api: GitHubApi) {
  const warnings: string[] = [];
  const notices: string[] = [];
  const p: FeedbackPorts = {
    log: { debug() {}, info() {}, warning: (m) => warnings.push(m) },
    notice: (m) => notices.push(m),
    secrets: new SecretRegistry(),
    env: {},
    userAgent: 'test',
    connect: async () => api,
  };
  return { p, warnings, notices };
}

test('pending first, then the outcome; the comment is created once and updated after', async () => {
  const rec = recorder();
  const { p, warnings } = ports(rec.api);
  const f = new PrFeedback(ON, PR_CTX, p, new AbortController().signal);
  assert.equal(f.active, true);
  f.begin(['app']);
  await f.finish([{ image: 'app', result: result(), durationMs: 1000 }]);
  await f.finish([{ image: 'app', result: result({ templateId: 'tpl_2' }), durationMs: 1000 }]);
  assert.deepEqual(rec.calls, ['status pending', 'status success', 'find', 'create', 'status success', 'update 1']);
  assert.deepEqual(
    rec.statuses.map((s) => [s.sha, s.context, s.state, s.description, s.targetUrl]),
    [
      [SHA, 'sandbox-image/app', 'pending', 'Building sandbox image app…', PR_CTX.runUrl],
      [SHA, 'sandbox-image/app', 'success', 'Registered tpl_1', PR_CTX.runUrl],
      [SHA, 'sandbox-image/app', 'success', 'Registered tpl_2', PR_CTX.runUrl],
    ],
  );
  assert.match(rec.comments.get(1)!, /tpl_2/);
  assert.deepEqual(warnings, []);
});

test('one status and one comment per image; a comment found by its marker is updated, another image’s is not touched', async () => {
  const rec = recorder();
  rec.comments.set(40, `${commentMarker('base')}\nold`);
  const { p } = ports(rec.api);
  const f = new PrFeedback({ ...ON, statusContext: 'ci/{image}' }, PR_CTX, p, new AbortController().signal);
  f.begin(['base', 'gpu']);
  await f.finish([
    { image: 'base', result: result(), durationMs: 1 },
    { image: 'gpu', result: result({ status: 'failed', error: new ActionError('boom\nmore', { kind: 'builder' }) }), durationMs: 1 },
  ]);
  assert.deepEqual(rec.statuses.map((s) => `${s.context}:${s.state}`).sort(), [
    'ci/base:pending',
    'ci/base:success',
    'ci/gpu:failure',
    'ci/gpu:pending',
  ]);
  assert.ok(rec.calls.includes('update 40'));
  assert.equal([...rec.comments.values()].filter((b) => b.includes(commentMarker('gpu'))).length, 1);
});

test('403/404 become a warning naming the permission; other failures a warning with the message; nothing throws', async () => {
  const rec = recorder((c) =>
    c === 'status'
      ? new GitHubError('Resource not accessible by integration', 403)
      : c === 'find'
        ? new GitHubError('no answer', 0)
        : undefined,
  );
  const { p, warnings } = ports(rec.api);
  const f = new PrFeedback(ON, { ...PR_CTX, pullRequest: { ...PR_CTX.pullRequest!, fromFork: true } }, p, new AbortController().signal);
  f.begin(['app']);
  await f.finish([{ image: 'app', result: result(), durationMs: 1 }]);
  assert.equal(warnings.length, 3, warnings.join('\n'));
  assert.match(warnings[0], /commit status for app was not written: GitHub answered 403 .*`statuses: write`.*comes from a fork/);
  assert.match(warnings[2], /pull request comment for app was not written: no answer$/);
  const notFound = recorder((c) => (c === 'find' ? new GitHubError('Not Found', 404) : undefined));
  const w2 = ports(notFound.api);
  await new PrFeedback({ ...ON, commitStatus: false }, PR_CTX, w2.p, new AbortController().signal).finish([
    { image: 'app', result: result(), durationMs: 1 },
  ]);
  assert.match(w2.warnings[0], /404 .*`pull-requests: write`/);
});

test('out of time: calls are not started, and say so', async () => {
  const rec = recorder();
  const { p, warnings } = ports(rec.api);
  const f = new PrFeedback(ON, PR_CTX, p, AbortSignal.abort());
  f.begin(['app']);
  await f.finish([{ image: 'app', result: result(), durationMs: 1 }]);
  assert.deepEqual(rec.calls, []);
  assert.equal(warnings.length, 3);
  for (const w of warnings) assert.match(w, /no time left/);
});

test('events without a target: one notice, no call; push gets the status but no comment; an empty token warns', async () => {
  for (const [ctx, notice] of [
    [{ eventName: 'schedule', repository: 'o/r' }, /do nothing here: 'schedule' events have no pull request/],
    [{ eventName: '', repository: '' }, /outside a workflow run/],
    [{ eventName: 'pull_request', repository: 'o/r', payloadProblem: 'GITHUB_EVENT_PATH is not set' }, /GITHUB_EVENT_PATH is not set/],
  ] as const) {
    const rec = recorder();
    const { p, notices } = ports(rec.api);
    const f = new PrFeedback(ON, ctx as RunContext, p, new AbortController().signal);
    assert.equal(f.active, false);
    f.begin(['app']);
    await f.finish([{ image: 'app', result: result(), durationMs: 1 }]);
    assert.deepEqual(rec.calls, []);
    assert.equal(notices.length, 1);
    assert.match(notices[0], notice);
  }
  const rec = recorder();
  const push = ports(rec.api);
  const f = new PrFeedback(ON, { eventName: 'push', repository: 'o/r', statusSha: SHA }, push.p, new AbortController().signal);
  f.begin(['app']);
  await f.finish([{ image: 'app', result: result(), durationMs: 1 }]);
  assert.deepEqual(rec.calls, ['status pending', 'status success']);
  assert.match(push.notices[0], /pr-comment does nothing on push events/);
  const none = ports(recorder().api);
  assert.equal(new PrFeedback({ ...ON, githubToken: '' }, PR_CTX, none.p, new AbortController().signal).active, false);
  assert.match(none.warnings[0], /github-token is empty/);
});

test('an insecure GITHUB_API_URL is refused with a warning, the token never sent', async () => {
  let connected = false;
  const { p, warnings } = ports(recorder().api);
  p.connect = async () => {
    connected = true;
    return recorder().api;
  };
  p.env = { GITHUB_API_URL: 'http://github.example.com/api/v3' };
  const f = new PrFeedback(ON, PR_CTX, p, new AbortController().signal);
  f.begin(['app']);
  await f.finish([{ image: 'app', result: result(), durationMs: 1 }]);
  assert.equal(connected, false);
  assert.match(warnings[0], /not https:\/\//);
});

test('status descriptions: at most 140 characters, redacted, error for cancelled, the first line for a failure', () => {
  const redact = (s: string) => s.replace(/sekrit/g, '***');
  const long = new ActionError(`x${'y'.repeat(300)}\nsecond`, { kind: 'builder' });
  const failed = finalStatus({ image: 'a', result: result({ status: 'failed', error: long }), durationMs: 1 }, redact);
  assert.equal(failed.state, 'failure');
  assert.equal(failed.description.length, MAX_DESCRIPTION);
  assert.ok(failed.description.endsWith('…') && !failed.description.includes('second'));
  const leaky = finalStatus(
    { image: 'a', result: result({ status: 'failed', error: new ActionError('token sekrit refused', { kind: 'auth' }) }), durationMs: 1 },
    redact,
  );
  assert.equal(leaky.description, 'token *** refused');
  const cancelled = new ActionError('the run was cancelled', { kind: 'cancelled', phase: 'upload' });
  assert.deepEqual(finalStatus({ image: 'a', result: result({ status: 'cancelled', error: cancelled }), durationMs: 1 }, redact), {
    state: 'error',
    description: 'Cancelled during Upload context',
  });
  assert.equal(
    finalStatus({ image: 'a', result: result({ status: 'planned', dryRun: { reason: 'input' } }), durationMs: 1 }, redact).state,
    'success',
  );
  assert.equal(statusContext('', 'web'), 'sandbox-image/web');
  assert.equal(statusContext('gate/{image}/x', 'web'), 'gate/web/x');
});

test('the comment marker cannot end the HTML comment; the comment is redacted and fences cannot be broken', () => {
  assert.equal(commentMarker('a-->b').includes('-->b'), false);
  assert.match(commentMarker('a-->b'), /^<!-- sbx-image-action:image=a%2D%2D%3Eb -->$/);
  const body = renderComment(
    {
      image: 'app',
      result: result({ status: 'failed', error: new ActionError('bad ``` sekrit', { kind: 'builder', advice: ['do this'] }) }),
      durationMs: 61_000,
    },
    { redact: (s) => s.replace(/sekrit/g, '***'), runUrl: 'https://x/run', sha: SHA },
  );
  assert.match(body, /````text\nbad ``` \*\*\*\ndo this\n````/);
  assert.match(body, /\| Duration \| 1m1s \|/);
  assert.ok(!body.includes('sekrit'));
});

test('the real client against the fake GitHub API: pages through comments, retries 5xx, maps errors, masks the token', async () => {
  const many = Array.from({ length: 130 }, (_, i) => ({ issue: 9, body: `chatter ${i}` }));
  const gh = await startGitHubFake({
    comments: [...many, { issue: 9, body: `${commentMarker('app')} by someone else`, user: 'github-actions[bot]' }],
  });
  const secrets = new SecretRegistry();
  const debug: string[] = [];
  try {
    const api = await connectGitHub({
      token: FAKE_GITHUB_TOKEN,
      apiUrl: gh.url,
      repository: 'o/r',
      secrets,
      log: { debug: (m) => debug.push(m), info: (m) => debug.push(m), warning: (m) => debug.push(m) },
      userAgent: 'test',
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
      signal: AbortSignal.timeout(20_000),
    });
    assert.ok(secrets.has(FAKE_GITHUB_TOKEN), 'the token is registered as a secret');
    const found = await api.findComment(9, (b) => b.includes(commentMarker('app')));
    assert.equal(found?.id, 1000 + 130, 'found on the second page');
    assert.deepEqual(
      gh.state().requests.map((r) => r.path),
      ['/repos/o/r/issues/9/comments', '/repos/o/r/issues/9/comments'],
    );
    gh.addFault({ endpoint: 'statuses', status: 503, times: 2 });
    await api.createStatus({ sha: SHA, state: 'success', context: 'c', description: 'd' });
    assert.equal(gh.state().statuses.length, 1);
    assert.equal(gh.state().requests.filter((r) => r.endpoint === 'statuses').length, 3);
    // a comment POST is not repeated after an ambiguous 502 (a duplicate comment is worse than none)
    gh.addFault({ endpoint: 'create-comment', status: 502, times: 1 });
    await assert.rejects(api.createComment(9, 'hello'), (e: unknown) => e instanceof GitHubError && e.status === 502);
    assert.equal(gh.state().requests.filter((r) => r.endpoint === 'create-comment').length, 1);
    gh.addFault({ endpoint: 'update-comment', status: 422, times: 1 });
    await assert.rejects(api.updateComment(found!.id, 'x'), (e: unknown) => e instanceof GitHubError && e.status === 422);
    assert.ok(debug.every((l) => !l.includes(FAKE_GITHUB_TOKEN)));
  } finally {
    await gh.stop();
  }
});
